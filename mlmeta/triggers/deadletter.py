"""Work that keeps failing for a reason of its own is set aside, so that it holds nothing else up.

The worker of ``webhook serve`` acts on every waiting delivery in one pass, and ``webhook work``
on a batch of messages; a pass that fails because of one model (MLflow answering 400 for a query
with its name, a bug that one model's data triggers) used to fail them all, again and again. Now:

- an error that is the servers' or the configuration's (``transient``: a server down or failing,
  a rejected token) keeps everything waiting, as before;
- any other error is *isolated*: each model of the pass is acted on alone, and a model that fails
  alone is **set aside** - its deliveries marked done, one dead-letter record each (model,
  delivery id, event, reason, time), said once in the log, counted in ``/metrics``, and named by
  ``/health`` ("degraded", still 200). The other models go on;
- a model set aside is tried alone whenever it comes up again (a new delivery, the next
  reconciliation), so it never holds up the others, and it leaves the set-aside list the first
  time it goes through.

``webhook serve`` keeps the records in ``webhook-dead-letters.jsonl`` in its state folder (private
0600 JSON Lines, through ``mlmeta.state``; beyond ``MAX_BYTES`` the older half is dropped);
``webhook work`` puts them on a Kafka topic with its commit (``queue_worker``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeta import secrets, state
from mlmeta.errors import ConfigError, ServerError

MAX_BYTES = 4 * 1024 * 1024  # the dead-letter file's size before its older half is dropped


def transient(error: BaseException) -> bool:
    """Whether an error stops every model alike (servers down, configuration wrong) rather than
    being one model's: such errors keep the work waiting instead of setting a model aside."""
    return isinstance(error, (ServerError, ConfigError)) or bool(getattr(error, "transient", False))


def reason_of(error: BaseException) -> str:
    """One line saying what went wrong, secrets masked."""
    text = " ".join(str(error).split()) or type(error).__name__
    return secrets.redact(f"{type(error).__name__}: {text}" if not _is_mlmeta(error) else text)[:500]


def _is_mlmeta(error: BaseException) -> bool:
    return type(error).__module__.startswith("mlmeta.")


@dataclass(frozen=True)
class Letter:
    model: str
    delivery: str | None  # None: found by a reconciliation pass, no delivery of its own
    event: str | None
    reason: str
    at: float

    def record(self) -> dict[str, Any]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))
        return {"time": stamp, "model": self.model, "delivery": self.delivery, "event": self.event,
                "reason": self.reason}


class SetAside:
    """The models set aside now (model -> reason), and the records of what was set aside
    (``path``: a JSON Lines file; None: kept by the caller, e.g. on a Kafka topic)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.models: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, letters: list[Letter]) -> list[str]:
        """Record letters; the models newly set aside (or for a new reason), to be said once. A
        letter without a delivery (a reconciliation pass) is recorded only when it is news."""
        with self._lock:
            news = sorted({letter.model for letter in letters if self.models.get(letter.model) != letter.reason})
            kept = [letter for letter in letters if letter.delivery is not None or letter.model in news]
            if self.path is not None and kept:
                self._append(b"".join((json.dumps(letter.record(), ensure_ascii=False) + "\n").encode()
                                      for letter in kept))
            self.models.update({letter.model: letter.reason for letter in letters})
        return news

    def cleared(self, models: list[str]) -> list[str]:
        """Models that went through: no longer set aside; those that were, to be said once."""
        with self._lock:
            return [model for model in models if self.models.pop(model, None) is not None]

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self.models)

    def _append(self, data: bytes) -> None:
        with state.open_private(self.path, append=True) as handle:
            handle.write(data)
            os.fsync(handle.fileno())
            size = handle.tell()
        if size > MAX_BYTES:  # bounded: the newer half stays
            text = self.path.read_bytes()[-MAX_BYTES // 2:]
            state.replace_file(self.path, text[text.find(b"\n") + 1:], mode=state.PRIVATE_FILE)


def health_of(set_aside: dict[str, str]) -> dict[str, Any]:
    """/health's words for models set aside: status "degraded", which and why (at most ten named)."""
    named = sorted(set_aside)[:10]
    more = f" (and {len(set_aside) - len(named)} more)" if len(set_aside) > len(named) else ""
    return {"status": "degraded",
            "reason": f"set aside after failing on their own: {', '.join(named)}{more}",
            "set_aside": {model: set_aside[model] for model in named}}
