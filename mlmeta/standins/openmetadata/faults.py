"""Latency and fault injection, and request counters, for tests and benchmarks.

Settable when the sandbox starts and at run time (``PUT /_sandbox/faults`` or the Python API).
A fault is decided per request: an error status (500, 502, 503, 504, or 429 with Retry-After),
or a dropped connection. ``phase`` says whether it strikes before the request is handled (no
side effect) or after (the write happened but the client never hears of it), or either.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

ALLOWED_STATUSES = (429, 500, 502, 503, 504)
PHASES = ("before", "after", "either")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    failure_rate: float = 0.0
    statuses: list[int] = field(default_factory=lambda: [503])
    retry_after: int = 1  # seconds, sent with 429
    drop_rate: float = 0.0
    phase: str = "before"
    methods: list[str] = field(default_factory=list)  # empty: every method
    path_pattern: str = ""  # regular expression on the path; empty: every path
    limit: int = 0  # strike at most this many requests, then none (0: no limit)
    seed: int | None = None

    def check(self) -> None:
        for rate in (self.failure_rate, self.drop_rate):
            if not 0.0 <= rate <= 1.0:
                raise ValueError("rates must be between 0 and 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency cannot be negative")
        unknown = [s for s in self.statuses if s not in ALLOWED_STATUSES]
        if unknown:
            raise ValueError(f"statuses must be among {ALLOWED_STATUSES}, got {unknown}")
        if self.limit < 0:
            raise ValueError("limit cannot be negative")
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        re.compile(self.path_pattern)


@dataclass(frozen=True)
class Fault:
    phase: str  # "before" or "after"
    status: int | None  # None: drop the connection


class Faults:
    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        settings.check()
        with self._lock:
            self.settings = settings
            # seeded, repeatable faults (B311)
            self._random = random.Random(settings.seed)  # nosec B311
            self._struck = 0

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        merged = {**asdict(self.settings), **changes}
        unknown = set(changes) - set(asdict(self.settings))
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        self.configure(FaultSettings(**merged))
        return self.settings

    def delay_seconds(self) -> float:
        with self._lock:
            s = self.settings
            jitter = self._random.uniform(-s.jitter_ms, s.jitter_ms) if s.jitter_ms else 0.0
        return max(0.0, s.latency_ms + jitter) / 1000.0

    def decide(self, method: str, path: str) -> Fault | None:
        with self._lock:
            s = self.settings
            if s.methods and method not in s.methods:
                return None
            if s.path_pattern and not re.search(s.path_pattern, path):
                return None
            if s.limit and self._struck >= s.limit:
                return None
            draw = self._random.random()
            phase = s.phase if s.phase != "either" else self._random.choice(("before", "after"))
            fault = None
            if draw < s.drop_rate:
                fault = Fault(phase, None)
            elif draw < s.drop_rate + s.failure_rate:
                fault = Fault(phase, self._random.choice(s.statuses))
            self._struck += fault is not None
        return fault


class Counters:
    """Requests by ``METHOD /route/{template}``; faulted ones are also counted apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.faulted: Counter[str] = Counter()

    def count(self, route: str, *, faulted: bool = False) -> None:
        with self._lock:
            self.requests[route] += 1
            if faulted:
                self.faulted[route] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": sum(self.requests.values()), "faulted_total": sum(self.faulted.values()),
                    "requests": dict(sorted(self.requests.items())), "faulted": dict(sorted(self.faulted.items()))}
