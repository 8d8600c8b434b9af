"""The files a spec names, kept inside its repository.

A spec may come from anyone's pull request, and ``validate``, ``plan`` and ``card`` run on it in
CI next to the catalog's and the registry's tokens. So every path a spec names
(``description_file``), and every spec file found by following a symlink, is resolved - symlinks
included - and must stay inside the spec's **repository root**: the git top level it lies in, else
the folder of the nearest project file (``mlmeta.toml``, ``pyproject.toml``), else the spec's own
folder. A path that leaves it, a symlink loop, or something that is not a regular file (a FIFO,
a device, ``/proc/self/environ``) is a finding at the spec's line, and nothing is read from it.
What is read is bounded (``MAX_TEXT_BYTES``), and opened so that a FIFO cannot block the run.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from pathlib import Path

MAX_TEXT_BYTES = 1024 * 1024  # a model's description is never that big
PROJECT_FILES = ("mlmeta.toml", "pyproject.toml")


class OutsideRepository(Exception):
    """A path a spec names cannot be read: it leaves the repository, loops, or is no regular file."""


def repository_root(folder: Path) -> Path:
    """The folder a spec in ``folder`` may name files under (see the module's docstring)."""
    return _root_of(Path(os.path.realpath(folder)))


@functools.lru_cache(maxsize=256)  # keyed by the real folder: a relative one means another folder elsewhere
def _root_of(real: Path) -> Path:
    for candidate in (real, *real.parents):
        if (candidate / ".git").exists():
            return candidate
    for candidate in (real, *real.parents):
        if any((candidate / name).is_file() for name in PROJECT_FILES):
            return candidate
    return real


def confine(base: Path, named: str) -> Path:
    """The real file ``named`` (relative to the folder ``base``, or absolute) stands for, a regular
    file inside ``base``'s repository root; ``OutsideRepository`` saying why not,
    ``FileNotFoundError`` when it is not there."""
    root = repository_root(base)
    target = Path(named) if os.path.isabs(named) else Path(base) / named
    real = _resolve(target)
    if not _inside(real, root):
        raise OutsideRepository(f"{named!r} leads outside the repository ({root}); a spec names files inside it")
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise OutsideRepository(f"{named!r} is not a regular file")
    return real


def spec_file_problem(path: Path) -> str | None:
    """Why a spec file (or a folder of specs) found on disk must not be read - a symlink leaving
    its repository or looping - or None. The root is the one of the folder it is listed in."""
    if not os.path.islink(path):
        return None
    try:
        real = _resolve(path)
    except OutsideRepository as problem:
        return str(problem)
    except FileNotFoundError:
        return None  # a dangling link: the loader says "file not found"
    root = repository_root(path.parent)
    if not _inside(real, root):
        return f"a symlink to {real}, outside the repository ({root}); not read"
    if real.is_dir() and _inside(Path(os.path.realpath(path.parent)), real):
        return f"a symlink loop: it leads back to {real}, a folder it is in; not searched"
    return None


def read_text(confined: Path) -> str:
    """A confined file's text (UTF-8, undecodable bytes replaced), at most ``MAX_TEXT_BYTES``."""
    descriptor = os.open(confined, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):  # swapped since confine() looked
            raise OutsideRepository(f"{confined} is not a regular file")
        data = stream.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise OutsideRepository(f"{confined} is larger than {MAX_TEXT_BYTES // 1024} KiB")
    return data.decode("utf-8", errors="replace")


def _resolve(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OutsideRepository(f"{path} is a symlink loop") from None
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileNotFoundError(str(path)) from None
        raise OutsideRepository(f"{path} cannot be read: {error.strerror or error}") from None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
