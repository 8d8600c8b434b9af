"""What the command line makes of its arguments before a core runs: the spec files that PATHS,
--changed-since and --select name, values that cannot work refused with their option's name
(exit 2), and where default files go."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def spec_files(paths: Optional[list[Path]], changed_since: Optional[str], settings,
               select: Optional[list[str]] = None, command: str = "") -> list[Path]:
    from mlmeta.spec import discovery

    chosen = selectors(select)  # a malformed one stops the command before anything is read
    roots = list(paths) if paths else list(settings.spec_paths)
    if not paths:
        check_default_roots(roots, settings)
    if changed_since and discovery.no_commit_before(changed_since):
        from mlmeta.output import console

        console.err(f"mlmeta: --changed-since {changed_since[:12]}...: no commit before it (a branch's first "
                    "push): every spec is new, so every spec is taken")
    if changed_since:
        files = discovery.changed_since(changed_since, roots)
    else:
        files = discovery.find_spec_files(roots)
    return _selected_files(files, chosen, command) if chosen else files


def selectors(select: Optional[list[str]]) -> list:
    from mlmeta.spec.selection import parse

    return parse(select) if select else []


def _selected_files(files: list[Path], chosen: list, command: str) -> list[Path]:
    """The spec files --select keeps (each is loaded to be judged, offline); a warning line on stderr
    for each selector that matches nothing."""
    from mlmeta.spec.discovery import display_path
    from mlmeta.output import console
    from mlmeta.spec.selection import Candidate, select
    from mlmeta.spec.load import load_spec

    cwd = os.getcwd()
    shown = {path: display_path(path, cwd) for path in files}
    candidates = {path: Candidate(shown[path], load_spec(path, shown[path]).spec) for path in files}
    kept, warnings = select(list(candidates.values()), chosen)
    for warning in warnings:
        console.err(f"mlmeta {command}: warning: {warning}")
    return [path for path, candidate in candidates.items() if candidate in kept]


def schema_ref(given: Optional[str], output: Optional[Path], settings) -> Optional[str]:
    """The $schema reference a new spec gets: as given, else the project's schema file (relative to
    where the spec goes) when it exists - never a path that is not there."""
    if given is not None:
        return given or None
    root = settings.project_file.parent if settings.project_file else Path.cwd()
    schema = root / "mlmeta.schema.json"
    if not schema.is_file():
        return None
    folder = (output.parent if output else (settings.spec_paths[0] if settings.spec_paths else root)).resolve()
    return Path(os.path.relpath(schema.resolve(), folder)).as_posix()


def refuse_overwrite(output: Optional[Path], command: str) -> None:
    from mlmeta.errors import UsageError

    if output is not None and os.path.lexists(output):  # a dangling symlink too: never written through
        raise UsageError(f"{output} exists; mlmeta {command} never overwrites a spec",
                         hint="choose another --output, or move the file away first")


def require(option: str, value: object, valid: bool, expected: str) -> None:
    """A value that cannot work stops the command before it starts, naming its option (exit 2)."""
    from mlmeta.errors import UsageError

    if not valid:
        raise UsageError(f"{option} {value}: {expected}")


def require_port(port: int) -> None:
    require("--port", port, 0 <= port <= 65535, "a TCP port is between 1 and 65535 (0 picks a free one)")


def check_default_roots(roots: list[Path], settings) -> None:
    """The configured spec folders exist, or a message that says where they were looked for."""
    from mlmeta.errors import UsageError

    missing = [root for root in roots if not root.exists()]
    if not missing:
        return
    if settings.project_file is None:
        raise UsageError(f"no spec folder {missing[0]}/ in {Path.cwd()} (and no mlmeta.toml or [tool.mlmeta] "
                         "above it to say where the specs are)",
                         hint="run mlmeta from the repository's root, set spec_paths in mlmeta.toml, or pass the "
                              "spec files or folders")
    if "spec_paths" not in settings.sources:
        raise UsageError(f"spec folder {missing[0]} not found (the default spec_paths, beside {settings.project_file})",
                         hint="create it, or set spec_paths in the project file")
    raise UsageError(f"spec folder {missing[0]} not found (spec_paths in {settings.project_file})",
                     hint="create it, or correct spec_paths")


def check_watched_paths(paths: Optional[list[Path]], settings) -> None:
    """The spec paths a long-running command watches exist - checked at start, so that a folder
    that is not there is said with a hint (and no state folder is left behind for it)."""
    from mlmeta.errors import UsageError

    if not paths:
        check_default_roots(list(settings.spec_paths), settings)
        return
    for path in paths:
        if not (path.exists() or path.is_symlink()):
            raise UsageError(f"path not found: {path}", hint=f"there is no {path} in {Path.cwd()}: pass the spec "
                                                             "files or folders as seen from here")


def beside_project(settings, relative: str) -> Path:
    """Where a default state file goes: beside the project file, so that the same project keeps one
    state from whichever of its folders a command runs; without one, in the working directory."""
    return settings.project_file.parent / relative if settings.project_file else Path(relative)
