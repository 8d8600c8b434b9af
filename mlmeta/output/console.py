"""The only way mlmeta writes to the terminal: every line is redacted of registered secrets."""

from __future__ import annotations

import sys
from typing import TextIO

from mlmeta.secrets import redact


def out(text: str = "", *, end: str = "\n") -> None:
    _write(sys.stdout, text + end)


def err(text: str = "", *, end: str = "\n") -> None:
    _write(sys.stderr, text + end)


def _write(stream: TextIO, text: str) -> None:
    stream.write(redact(text))
    stream.flush()


def append_to_file(path: str, text: str) -> None:
    """Append to a file GitHub Actions reads ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(redact(text))
