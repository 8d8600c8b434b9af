"""Where log records go: through mlmeta's console (so secrets are masked), and only mlmeta's own.

Libraries log on their own terms - urllib3 warns about retries and unverified TLS, mlflow and the
OpenMetadata SDK report their internals, Python's ``warnings`` flag deprecations. None of that is
the user's business unless they ask: with ``-v`` (or ``MLMETA_DEBUG``) every record, mlmeta's
debug lines included, is shown; otherwise only mlmeta's own warnings and errors. Either way each
line passes ``console.err``, which redacts every registered secret.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timezone

from mlmeta.output import console


class JsonLines(logging.Formatter):
    """One JSON object per record, for log collectors (``--log-format json``)."""

    def format(self, record: logging.LogRecord) -> str:
        return json_line(record.levelname.lower(), record.name, record.getMessage())


def json_line(level: str, logger: str, message: str) -> str:
    stamp = datetime.fromtimestamp(time.time(), timezone.utc).isoformat(timespec="milliseconds")
    return json.dumps({"time": stamp, "level": level, "logger": logger, "message": message}, ensure_ascii=False)


class _ConsoleHandler(logging.Handler):
    def __init__(self, verbose: bool, json_lines: bool = False) -> None:
        super().__init__(logging.DEBUG if verbose else logging.WARNING)
        self.verbose = verbose
        self.setFormatter(JsonLines() if json_lines else logging.Formatter("%(name)s: %(levelname)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        return self.verbose or record.name == "mlmeta" or record.name.startswith("mlmeta.")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console.err(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break a command
            self.handleError(record)


def verbose_requested(flag: bool = False) -> bool:
    return flag or bool(os.environ.get("MLMETA_DEBUG"))


def configure(verbose: bool = False, *, json_lines: bool = False) -> None:
    """Route every log record (and Python warnings) to the console handler, replacing earlier ones;
    ``json_lines``: as JSON objects, one per line."""
    verbose = verbose_requested(verbose)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _ConsoleHandler):
            root.removeHandler(handler)
    root.addHandler(_ConsoleHandler(verbose, json_lines))
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.captureWarnings(True)
    for name in ("mlflow", "metadata", "urllib3", "git"):
        library = logging.getLogger(name)
        library.handlers.clear()  # some install their own stderr handlers on import
        library.propagate = True
