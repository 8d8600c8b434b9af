"""Which spec files a command works on: explicit paths, folders, or what changed since a git ref."""

from __future__ import annotations

import os
from pathlib import Path

from mlmeta.errors import UsageError
from mlmeta.spec.files import spec_file_problem

SPEC_SUFFIXES = (".yaml", ".yml")
HEX = frozenset("0123456789abcdef")


def no_commit_before(ref: str) -> bool:
    """Git's null object id (40 zeros, 64 in a SHA-256 repository): what GitHub's
    ``github.event.before``, GitLab's ``CI_COMMIT_BEFORE_SHA`` and git's own hooks pass when there
    was no commit before - a branch's first push, a new repository's."""
    return len(ref) in (40, 64) and set(ref) == {"0"}


def find_spec_files(paths: list[Path]) -> list[Path]:
    """Files as given, folders searched recursively for *.yaml / *.yml; sorted, no duplicates.

    A symlinked folder inside the repository is searched like any other. A symlink that loops or
    leaves the repository is listed, not followed, so that loading it reports it by name (F005)
    instead of the run skipping it silently."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            _search(path, found, {os.path.realpath(path)})
        elif path.exists() or path.is_symlink():
            found[path] = None
        else:
            raise UsageError(f"path not found: {path}")
    return list(found)


def _search(folder: Path, found: dict[Path, None], searched: set[str]) -> None:
    for candidate in sorted(folder.rglob("*")):  # rglob does not descend into symlinked folders
        if _hidden(candidate, folder):
            continue
        if not candidate.is_symlink():
            if candidate.suffix in SPEC_SUFFIXES and candidate.is_file():
                found[candidate] = None
        elif spec_file_problem(candidate):
            if candidate.suffix in SPEC_SUFFIXES or not candidate.is_file():
                found[candidate] = None  # reported when loaded
        elif candidate.is_dir() and os.path.realpath(candidate) not in searched:
            searched.add(os.path.realpath(candidate))
            _search(candidate, found, searched)
        elif candidate.suffix in SPEC_SUFFIXES and candidate.is_file():
            found[candidate] = None


def _hidden(candidate: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in candidate.relative_to(root).parts)


def changed_since(ref: str, paths: list[Path]) -> list[Path]:
    """Spec files under ``paths`` that differ from the merge base of ``ref`` and HEAD.

    Counts commits since the branch left ``ref`` plus staged, unstaged and untracked changes, so
    the same flag works in a pull request (``origin/main``) and before a local commit. Deleted
    files are left out: there is nothing left to validate or publish. With no commit before
    (``no_commit_before``) everything is new: every spec under ``paths``.
    """
    if no_commit_before(ref):
        return find_spec_files(paths)
    repo, base = _merge_base(ref)
    top = Path(repo.working_tree_dir).resolve()
    names = repo.git.diff("--name-only", "--no-renames", "--diff-filter=d", base).splitlines()
    names += repo.untracked_files
    changed = {(top / name).resolve() for name in names}
    return [f for f in find_spec_files(paths) if f.resolve() in changed]


def deleted_since(ref: str, paths: list[Path]) -> list[tuple[str, str]]:
    """Spec files under ``paths`` deleted since the merge base of ``ref`` and HEAD (committed or
    not): ``(path as shown, the file's text at the base)``, so prune knows what they documented.
    With no commit before, nothing was there to delete."""
    if no_commit_before(ref):
        return []
    repo, base = _merge_base(ref)
    top = Path(repo.working_tree_dir).resolve()
    roots = [p.resolve() for p in paths]
    found = []
    for name in repo.git.diff("--name-only", "--no-renames", "--diff-filter=D", base).splitlines():
        path = (top / name).resolve()
        if path.suffix in SPEC_SUFFIXES and any(path == r or r in path.parents for r in roots):
            found.append((display_path(path), repo.git.show(f"{base}:{name}")))
    return found


def _merge_base(ref: str):
    import git  # gitpython costs ~0.1 s: only imported when asked for

    try:
        repo = git.Repo(Path.cwd(), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError("--changed-since needs a git repository; run mlmeta inside one") from None
    try:
        bases = repo.merge_base(ref, "HEAD")
    except git.GitCommandError:
        raise UsageError(f"--changed-since: unknown git ref {ref!r}", hint=_unknown_ref_hint(repo, ref)) from None
    if not bases:
        raise UsageError(f"--changed-since: {ref!r} and HEAD have no common history")
    return repo, bases[0].hexsha


def _unknown_ref_hint(repo, ref: str) -> str:
    """Why a ref is not in this clone, as far as the clone can tell: the fix differs."""
    if repo.git.rev_parse("--is-shallow-repository") == "true":
        return "this clone is shallow: fetch the history first (actions/checkout with fetch-depth: 0, " \
               "or git fetch --unshallow)"
    if 7 <= len(ref) <= 64 and set(ref.lower()) <= HEX:
        return (f"commit {ref} is not in this clone although its history is complete: after a force push, "
                "the commit before it is on no branch, so no fetch brings it; publish with --all instead "
                "(examples/github/mlmeta-publish.yml does so by itself)")
    remote, _, branch = ref.partition("/") if "/" in ref else ("origin", "", ref)
    return f"no branch, tag or commit of that name in this clone; fetch it first (git fetch {remote} {branch})"


def display_path(path: Path, cwd: str | None = None) -> str:
    """A path as users and GitHub annotations expect it: relative to the working directory
    (``cwd``: that directory, when the caller already knows it - many files, one look-up)."""
    try:
        relative = os.path.relpath(path, cwd or os.getcwd())
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def last_commits(paths: list[Path]) -> dict[Path, str]:
    """The last commit that changed each file (resolved path -> sha), in one ``git log``; empty
    outside a repository. Goes into the generated description: stable while a spec is unchanged."""
    if not paths:
        return {}
    import git

    try:
        repo = git.Repo(Path.cwd(), search_parent_directories=True)
        top = Path(repo.working_tree_dir).resolve()
        log = repo.git.log("--format=commit %H", "--name-only", "--no-renames", "--",
                           *[str(p.resolve().relative_to(top)) for p in paths])
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError):
        return {}
    wanted = {p.resolve() for p in paths}
    found: dict[Path, str] = {}
    commit = ""
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line[7:]
        elif line and (path := (top / line).resolve()) in wanted and path not in found:
            found[path] = commit
    return found
