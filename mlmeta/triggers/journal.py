"""The webhook's journal: every accepted delivery, on disk before it is acknowledged.

GitHub's and Stripe's webhook consumers persist, then acknowledge, then process with retries;
MLflow never sends again a delivery it got a 202 for, so a promotion held only in memory dies with
the process. ``accept`` appends one line and fsyncs it before the receiver answers 202; ``done``
appends the mark that an entry was acted on. On start, the entries without their mark are the work
left over, processed first.

One line per record, JSON with a CRC-32 of its own text, so a torn or damaged record (a crash
mid-write, a disk full) is recognised: the file is read up to the last complete record, and the
rest is moved aside beside it (``*.damaged-<time>``) and reported in one line - never dropped
silently, never a reason not to start. The journal is compacted (rewritten with only its open
entries, atomically) once enough marks pile up, and bounded: with ``limit`` entries open,
``accept`` raises ``JournalFull`` and the receiver answers 503, so MLflow retries later.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeta import state
COMPACT_AFTER = 500  # done marks in the file before it is rewritten with the open entries only


class JournalFull(Exception):
    """``limit`` deliveries are waiting: refuse more until some are done."""


@dataclass(frozen=True)
class Entry:
    seq: int
    model: str  # the registered model the delivery is about
    delivery: str  # X-MLflow-Delivery-Id
    event: str  # e.g. model_version_alias.created
    announced: float  # X-MLflow-Timestamp: when MLflow says it happened (epoch seconds)
    received: float

    def record(self) -> dict[str, Any]:
        return {"op": "accept", "seq": self.seq, "model": self.model, "delivery": self.delivery, "event": self.event,
                "announced": self.announced, "received": self.received}


@dataclass(frozen=True)
class Recovery:
    """What opening the journal found: the open entries, and a damaged tail set aside (or None)."""

    open_entries: int
    damaged: Path | None = None
    damaged_bytes: int = 0


def _line(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return (json.dumps({**record, "crc": zlib.crc32(text.encode())}, sort_keys=True, separators=(",", ":"))
            + "\n").encode()


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A record from one complete line, or None when it is damaged."""
    try:
        record = json.loads(raw)
        crc = record.pop("crc")
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return record if zlib.crc32(text.encode()) == crc else None


class Journal:
    def __init__(self, path: Path, limit: int = 10_000) -> None:
        self.path = path
        self.limit = limit
        self._open: dict[int, Entry] = {}
        self._next = 1
        self._marks = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._handle: Any = None

    # --- opening ----------------------------------------------------------------------------------

    def open(self) -> Recovery:
        """Read what an earlier run left (up to its last complete record), then append to it."""
        state.prepare(self.path)
        data = self.path.read_bytes() if self.path.exists() else b""
        good = 0
        for raw in data.splitlines(keepends=True):
            record = _parse(raw) if raw.endswith(b"\n") else None
            if record is None:
                break
            self._apply(record)
            good += len(raw)
        damaged = None
        if good < len(data):
            damaged = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            state.replace_file(damaged, data[good:], mode=state.PRIVATE_FILE)
            with state.open_private(self.path) as handle:
                handle.truncate(good)
                os.fsync(handle.fileno())
        self._handle = self._append()
        self._compact_if_due()
        return Recovery(len(self._open), damaged, len(data) - good)

    def _apply(self, record: dict[str, Any]) -> None:
        seq = int(record["seq"])
        self._next = max(self._next, seq + 1)
        if record.get("op") == "accept":
            self._open[seq] = Entry(seq, record["model"], record["delivery"], record["event"],
                                    float(record["announced"]), float(record["received"]))
        elif record.get("op") == "done":
            self._open.pop(seq, None)
            self._marks += 1

    # --- writing ----------------------------------------------------------------------------------

    def accept(self, model: str, delivery: str, event: str, announced: float) -> Entry:
        """Append a delivery durably (fsync) - only then may the receiver answer 202."""
        with self._changed:
            if len(self._open) >= self.limit:
                raise JournalFull(f"{len(self._open)} deliveries are waiting (the journal's limit)")
            entry = Entry(self._next, model, delivery, event, announced, time.time())
            self._write(_line(entry.record()))
            self._next += 1
            self._open[entry.seq] = entry
            self._changed.notify_all()
            return entry

    def done(self, entries: list[Entry]) -> None:
        """Mark entries acted on; the file is compacted once enough marks pile up."""
        with self._changed:
            self._write(b"".join(_line({"op": "done", "seq": e.seq}) for e in entries if e.seq in self._open))
            for entry in entries:
                if self._open.pop(entry.seq, None) is not None:
                    self._marks += 1
            self._compact_if_due()

    def _append(self) -> Any:
        return state.open_private(self.path, append=True)  # unbuffered: a failed write leaves nothing to flush

    def _write(self, data: bytes) -> None:
        """Append and fsync; a write that fails (a disk full) is cut back off, so no torn record is
        left for the next start to stop at."""
        if not data:
            return
        size = self._handle.tell()
        try:
            rest = memoryview(data)
            while rest:  # an unbuffered write may take only part of it
                rest = rest[self._handle.write(rest):]
            os.fsync(self._handle.fileno())
        except OSError:
            try:
                self._handle.truncate(size)
            except OSError:
                pass  # the next start sets the torn record aside, and says so
            raise

    def _compact_if_due(self) -> None:
        if self._marks < COMPACT_AFTER:
            return
        text = b"".join(_line(entry.record()) for entry in sorted(self._open.values(), key=lambda e: e.seq))
        self._handle.close()
        state.write_durably(self.path, text.decode())
        self._handle = self._append()
        self._marks = 0

    # --- reading ----------------------------------------------------------------------------------

    def waiting(self) -> list[Entry]:
        with self._lock:
            return sorted(self._open.values(), key=lambda e: e.seq)

    @property
    def depth(self) -> int:
        with self._lock:
            return len(self._open)

    def wait_for_entries(self, timeout: float) -> bool:
        """Block until something is waiting (or ``timeout``); whether something is."""
        with self._changed:
            if not self._open:
                self._changed.wait(timeout)
            return bool(self._open)

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                try:
                    self._handle.close()
                except OSError:
                    pass  # every record was fsync'd as it was written: nothing is lost by this
                self._handle = None
