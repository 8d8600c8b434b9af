"""Files mlmeta writes, written safely: its local state (``.mlmeta/``: checkpoints, the webhook's
journal, delivery ids, event spools) private to its user, and every file it writes replaced
atomically without following a symlink.

The rules, each with the attack it closes (docs/security.md, tests/security/test_files.py):

- A temporary file has an unpredictable name and is created exclusively (``mkstemp``: ``O_EXCL``,
  mode 0600), so a symlink planted where mlmeta would write cannot redirect the write.
- A file is replaced by ``rename``, which replaces a symlink standing at the target instead of
  writing through it, and leaves the old file or the new one after a crash, never half of either.
- State is private: folders 0700, files 0600 (they hold what the registry and the catalog said,
  and an event spool may hold what a sink needs). A state file opened for appending or locking
  is opened with ``O_NOFOLLOW`` and tightened to 0600 if an older mlmeta left it wider.

The state folder lives in the user's repository, so it keeps itself out of git the way
``.pytest_cache`` does: a ``.gitignore`` of ``*`` inside it, written when mlmeta creates it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

FOLDER = ".mlmeta"
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
_IGNORE = "# written by mlmeta: its local state (watch checkpoints, event spools) stays out of git\n*\n"


def prepare(file: Path) -> None:
    """Create the private folder a state file goes in; an ``.mlmeta`` folder also gets its .gitignore."""
    folder = file.parent
    if not folder.is_dir():
        folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        os.chmod(folder, PRIVATE_FOLDER)  # mkdir's mode is masked by the umask
    if folder.name == FOLDER and not (folder / ".gitignore").exists():
        replace_file(folder / ".gitignore", _IGNORE.encode(), mode=0o644, durable=False)


def write_durably(path: Path, text: str) -> None:
    """Replace a private state file so that a crash leaves the old one or the new one."""
    prepare(path)
    replace_file(path, text.encode("utf-8"), mode=PRIVATE_FILE)


def replace_file(path: Path, data: bytes, *, mode: int | None = None, durable: bool = True) -> None:
    """Write ``data`` as ``path``, atomically, never through a symlink: an exclusive temporary
    file with an unpredictable name, fsync'd, renamed over the target, the folder fsync'd.
    ``mode``: the file's permissions; None keeps those of the file replaced (a spec ``pull``
    edits), or gives a new file the umask's."""
    folder = path.parent
    if mode is None:
        mode = _existing_mode(path) or _new_file_mode()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            if durable:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(folder)


def create_file(path: Path, data: bytes) -> None:
    """Write a new file at ``path``, all at once, never over anything already there - a file, a
    folder or a symlink, dangling or not (``FileExistsError``): an exclusive temporary file,
    hard-linked into place (``link`` neither follows nor replaces what stands at the target)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), _new_file_mode())
            os.fsync(stream.fileno())
        os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    _fsync_folder(path.parent)


def open_private(path: Path, *, append: bool = False) -> BinaryIO:
    """Open a private state file for appending (``append``) or for reading and locking, creating
    it 0600; a symlink in its place is refused (``OSError`` ELOOP), not followed."""
    prepare(path)
    flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_WRONLY | os.O_APPEND if append else os.O_RDWR)
    descriptor = os.open(path, flags, PRIVATE_FILE)
    try:
        if stat.S_IMODE(os.fstat(descriptor).st_mode) & 0o077:
            os.fchmod(descriptor, PRIVATE_FILE)  # left wider by an older mlmeta
        return os.fdopen(descriptor, "ab" if append else "r+b", buffering=0)
    except BaseException:
        os.close(descriptor)
        raise


def _new_file_mode() -> int:
    """What a file made with ``open`` would get: 0666 less the umask (mkstemp makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _existing_mode(path: Path) -> int | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
