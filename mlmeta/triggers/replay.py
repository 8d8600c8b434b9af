"""The delivery ids ``webhook serve`` accepted, kept as long as a replay of them could pass the
freshness check - and across restarts.

A delivery is fresh while its signed timestamp is within ``max_age`` of now, on either side: one
dated up to ``max_age`` in the future passes until ``timestamp + max_age``. So each id is kept
until exactly then (not ``received + max_age``, which let a future-dated delivery be replayed once
its id was forgotten), and a replay inside that window is 409 whenever it comes.

Ids live in ``webhook-deliveries.jsonl`` in the state folder (private, 0600, through
``mlmeta.state``): one line per accepted delivery, appended and fsync'd before the 202, read back
at start - so a captured delivery replayed after a restart is still refused. Expired ids are
dropped from memory as time passes and from the file when it is rewritten (atomically) at start
and whenever it holds far more lines than live ids. At most ``limit`` ids are live at once; past
that a delivery is answered 503 (MLflow retries) - only authentic deliveries are recorded, so
only the holder of the secret could get there. Without a state folder (``--queue``: the receivers
keep nothing on disk) the ids are kept in memory only.

A delivery's id is *claimed* before it is journaled and *released* again if the journal does not
take it: MLflow resends a delivery answered 503 with the same id and timestamp, and that retry must
not be mistaken for a replay.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlmeta import state
LIMIT = 100_000  # live delivery ids at most
PRUNE_EVERY = 10.0  # seconds between sweeps of expired ids


class TooManyDeliveries(Exception):
    """``limit`` ids are live: the delivery cannot be remembered now."""


class SeenDeliveries:
    def __init__(self, path: Path | None, *, limit: int = LIMIT, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.limit = limit
        self._clock = clock
        self._until: dict[str, float] = {}  # delivery id -> when a replay of it would be stale
        self._lines = 0  # lines in the file
        self._next_prune = 0.0
        self._lock = threading.Lock()
        self._handle: Any = None

    def open(self) -> None:
        """Read the ids an earlier run kept (the live ones), rewrite the file with those only."""
        if self.path is None:
            return
        now = self._clock()
        for record in _records(self.path):
            if record["until"] >= now:
                self._until[record["id"]] = max(record["until"], self._until.get(record["id"], 0.0))
        self._rewrite()

    def claim(self, delivery_id: str, until: float) -> bool:
        """Reserve an id until ``until``; False when it is live already (a replay)."""
        with self._lock:
            now = self._clock()
            if now >= self._next_prune or len(self._until) >= self.limit:
                self._prune(now)
            if self._until.get(delivery_id, -1.0) >= now:
                return False
            if len(self._until) >= self.limit:
                raise TooManyDeliveries(f"{len(self._until)} delivery ids are remembered (the limit)")
            self._until[delivery_id] = until
            return True

    def release(self, delivery_id: str) -> None:
        """Forget a claimed id whose delivery was not accepted after all."""
        with self._lock:
            self._until.pop(delivery_id, None)

    def keep(self, delivery_id: str) -> None:
        """Write a claimed id down (fsync'd) - before the 202. An OSError leaves it in memory only."""
        if self.path is None:
            return
        with self._lock:
            until = self._until.get(delivery_id)
            if until is None:
                return
            line = (json.dumps({"id": delivery_id, "until": until}, separators=(",", ":")) + "\n").encode()
            if self._handle is None:
                self._handle = state.open_private(self.path, append=True)
            self._handle.write(line)
            os.fsync(self._handle.fileno())
            self._lines += 1
            if self._lines > 2 * len(self._until) + 1000:  # mostly expired lines: rewrite with the live ids
                self._prune(self._clock())
                self._rewrite()

    def __contains__(self, delivery_id: str) -> bool:
        with self._lock:
            return self._until.get(delivery_id, -1.0) >= self._clock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def _prune(self, now: float) -> None:
        self._until = {key: until for key, until in self._until.items() if until >= now}
        self._next_prune = now + PRUNE_EVERY

    def _rewrite(self) -> None:
        """The file anew, with the live ids only (atomically: a crash leaves the old file or this one)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        text = "".join(json.dumps({"id": key, "until": until}, separators=(",", ":")) + "\n"
                       for key, until in self._until.items())
        state.write_durably(self.path, text)
        self._lines = len(self._until)


def _records(path: Path) -> list[dict[str, Any]]:
    """The records of the file; a line torn by a crash, or anything not written by mlmeta, is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
            if isinstance(record.get("id"), str) and isinstance(record.get("until"), (int, float)):
                records.append({"id": record["id"], "until": float(record["until"])})
        except (ValueError, AttributeError):
            continue
    return records
