"""The only way mlmeta writes to the terminal: every line is redacted of registered secrets.

A reader that goes away (``mlmeta plan | head -1``) is not a failure of the work: what is left to
print has nowhere to go, the command finishes and exits with the work's own code. The stream is
then pointed at /dev/null, so that nothing - Python's flush at exit included - fails on it again.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from mlmeta.secrets import redact

_closed: set[str] = set()  # "stdout", "stderr": streams whose reader went away


def out(text: str = "", *, end: str = "\n") -> None:
    write_out(text + end)


def err(text: str = "", *, end: str = "\n") -> None:
    _write("stderr", text + end)


def write_out(text: str) -> bool:
    """Write to stdout; False when its reader has gone away (the text went nowhere)."""
    return _write("stdout", text)


def _write(name: str, text: str) -> bool:
    if name in _closed:
        return False
    stream: TextIO = getattr(sys, name)
    try:
        stream.write(redact(text))
        stream.flush()
    except BrokenPipeError:
        _closed.add(name)
        _to_devnull(stream)
        return False
    return True


def _to_devnull(stream: TextIO) -> None:
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # no file descriptor (a test's capture): nothing to flush later
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def append_to_file(path: str, text: str) -> None:
    """Append to a file GitHub Actions reads ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(redact(text))
