"""Where mlmeta keeps local state in a project (``.mlmeta/``: watch checkpoints, event spools).

The folder lives in the user's repository, so it is made to keep itself out of git the way
``.pytest_cache`` does: a ``.gitignore`` of ``*`` inside it, written when mlmeta creates it.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = ".mlmeta"
_IGNORE = "# written by mlmeta: its local state (watch checkpoints, event spools) stays out of git\n*\n"


def prepare(file: Path) -> None:
    """Create the folder a state file goes in; an ``.mlmeta`` folder also gets its .gitignore."""
    folder = file.parent
    folder.mkdir(parents=True, exist_ok=True)
    if folder.name == FOLDER and not (folder / ".gitignore").exists():
        (folder / ".gitignore").write_text(_IGNORE, encoding="utf-8")
