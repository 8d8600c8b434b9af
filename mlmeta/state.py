"""Where mlmeta keeps local state in a project (``.mlmeta/``: checkpoints, the webhook's journal,
event spools), and how it is written.

The folder lives in the user's repository, so it is made to keep itself out of git the way
``.pytest_cache`` does: a ``.gitignore`` of ``*`` inside it, written when mlmeta creates it.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = ".mlmeta"
_IGNORE = "# written by mlmeta: its local state (watch checkpoints, event spools) stays out of git\n*\n"


def prepare(file: Path) -> None:
    """Create the folder a state file goes in; an ``.mlmeta`` folder also gets its .gitignore."""
    folder = file.parent
    folder.mkdir(parents=True, exist_ok=True)
    if folder.name == FOLDER and not (folder / ".gitignore").exists():
        (folder / ".gitignore").write_text(_IGNORE, encoding="utf-8")


def write_durably(path: Path, text: str) -> None:
    """Replace a state file so that a crash leaves the old one or the new one, never half of
    either: write a temporary file, fsync it, rename it over, fsync the folder."""
    prepare(path)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)

