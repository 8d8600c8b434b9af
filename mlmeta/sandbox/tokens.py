"""Where ``mlmeta sandbox`` keeps the tokens it issues, and keeping them out of git.

By default the tokens go to the user's cache folder, outside any repository. When someone asks
for a file inside a git work tree instead, its path is added to that repository's
``.git/info/exclude`` (the clone's own ignore list, never committed), so ``git add -A`` cannot
pick up a token by accident.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_token_file() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mlmeta" / "sandbox" / "tokens.json"


def keep_out_of_git(token_file: Path) -> Path | None:
    """List the token files in the enclosing repository's .git/info/exclude; that file, or None."""
    target = token_file.resolve()
    for folder in target.parents:
        git_dir = folder / ".git"
        if git_dir.is_dir():
            exclude = git_dir / "info" / "exclude"
            relative = target.parent.relative_to(folder).as_posix()
            patterns = [f"/{relative}/{name}" if relative != "." else f"/{name}"
                        for name in (target.name, "*.jwt")]
            present = exclude.read_text(encoding="utf-8").splitlines() if exclude.is_file() else []
            missing = [p for p in patterns if p not in present]
            if missing:
                exclude.parent.mkdir(parents=True, exist_ok=True)
                with exclude.open("a", encoding="utf-8") as handle:
                    handle.write("".join(f"{p}\n" for p in ["# mlmeta sandbox tokens", *missing]))
            return exclude
        if (folder / ".git").is_file():  # a worktree or submodule: its git dir is elsewhere; leave it
            return None
    return None
