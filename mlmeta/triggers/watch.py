"""``mlmeta watch``: poll the registry, publish what reached Production, emit one event each.

Each pass re-reads the specs, reads every watched registered model in one paged
``registered-models/search`` (aliases change no timestamp, so the alias maps themselves are
compared, never timestamps), and compares what is in Production with the checkpoint: a new
version under an alias or a stage is a promotion. The specs of all promotions found go through
the publish pipeline together, then each promotion becomes one event.

The checkpoint (JSON, written atomically) records, per watch key, the promotion last acted on
and a digest of its specs - so a restart neither misses a promotion made while the watcher was
down nor publishes one twice, and a failed publish is retried once its spec changes. A lock file
beside it lets only one watcher work on it at a time (``flock``): a second watcher waits for the
first to finish its pass, then finds nothing left to do. A crash between publishing and writing
the checkpoint means the next pass publishes again - unchanged, so harmless - and emits the
same event id again.

The first pass on a new checkpoint publishes every spec (the catalog catches up) and records what
it found, without events: nothing was promoted while watching. A catch-up that fails is reported
like a failed promotion (``--once`` exits 1) and retried once its spec changes. Server errors
back off (exponentially, up to ``max_backoff``) and are retried; a configuration error stops the
watcher. SIGTERM and SIGINT stop it cleanly between promotions.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import state
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError
from mlmeta.events import PromotionEvent
from mlmeta.events.sinks import Emitter
from mlmeta.triggers import promotions

log = logging.getLogger("mlmeta.watch")
CHECKPOINT_VERSION = 1


@dataclass
class WatchOptions:
    checkpoint: Path
    interval: float = 30.0
    jitter: float = 0.1  # share of the interval, either way
    max_backoff: float = 300.0
    once: bool = False
    all_models: bool = False
    paths: list[Path] | None = None
    create_service: bool = False


@dataclass
class PassReport:
    """One pass: what it saw and did (progress lines and tests read it)."""

    models: int = 0
    promotions: list[str] = field(default_factory=list)
    events: int = 0
    failures: int = 0
    baseline: bool = False
    problems: list[str] = field(default_factory=list)


class Checkpoint:
    """``{"version": 1, "keys": {watch key: {"version", "by", "marker", "specs", "status"}}}``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def locked(self, wait: float | None) -> Iterator[bool]:
        """Hold the checkpoint's lock; yields False when another watcher kept it past ``wait``."""
        state.prepare(self.path)
        with self.lock_path.open("a+") as handle:
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.1)
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def read(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"checkpoint {self.path}", f"cannot be read ({error}); move it away to start over") from None
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
            raise ConfigError(f"checkpoint {self.path}", "was not written by this mlmeta; move it away to start over")
        return data

    def write(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


class Watcher:
    def __init__(self, settings: Settings, options: WatchOptions, emitter: Emitter,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self.settings = settings
        self.options = options
        self.emitter = emitter
        self.progress = progress
        self.checkpoint = Checkpoint(options.checkpoint)
        self.stopping = threading.Event()

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Pass after pass until stopped (or one pass with ``once``); the exit code."""
        failures_in_a_row = 0
        while not self.stopping.is_set():
            try:
                report = self.run_pass()
            except ConfigError:
                raise  # a wrong setting does not fix itself
            except ServerError as error:
                failures_in_a_row += 1
                if self.options.once:
                    raise
                wait = self._backoff(failures_in_a_row)
                self.progress(f"watch: {error}; next try in {wait:.0f} s")
                self.stopping.wait(wait)
                continue
            failures_in_a_row = 0
            if self.options.once:
                return 1 if (report.failures or report.problems) else 0
            self.stopping.wait(self._interval())
        return 0

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    @contextmanager
    def signals_stop_it(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _interval(self) -> float:
        spread = self.options.interval * self.options.jitter
        return max(0.1, self.options.interval + random.uniform(-spread, spread))

    def _backoff(self, failures: int) -> float:
        return min(self.options.max_backoff, self.options.interval * 2 ** (failures - 1)) * random.uniform(0.8, 1.0)

    # --- one pass ------------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        report = PassReport()
        with self.checkpoint.locked(wait=None if self.options.once else self.options.interval) as mine:
            if not mine:
                self.progress(f"watch: another watcher holds {self.checkpoint.path}; skipping this pass")
                return report
            problems = self.emitter.emit([])  # what a sink could not take last time goes first
            report.problems += problems
            self._pass(report)
        for line in report.problems:
            self.progress(f"watch: {line}")
        return report

    def _pass(self, report: PassReport) -> None:
        from mlmeta.adapters.mlflow import MlflowRegistry
        from mlmeta.validate import validate_files

        settings = self.settings
        validation = validate_files(promotions.spec_files(settings, self.options.paths),
                                    default_service=settings.service, service_required=True)
        for file in validation.files:
            if not file.valid:
                report.problems.append(f"{file.path} is invalid and not watched: "
                                       f"{next(d.message for d in file.diagnostics if d.is_error)}")
        registry = MlflowRegistry.from_settings(settings)
        specs = validation.specs()
        if self.options.all_models:
            listed = registry.all_registered_models()
        else:
            registry.prefetch([s.spec.registered_model for s in specs])
            listed = registry.known_models()
        models = {m["name"]: m for m in listed}
        keys = promotions.watched(specs, settings, list(models) if self.options.all_models else [])
        report.models = len(models)
        now = promotions.current(registry, keys, models)
        state = self.checkpoint.read()
        if state is None:
            self._baseline(keys, now, registry, report)
            return
        seen = state["keys"]
        todo = []
        for key, promotion in now.items():
            item, last = keys[key], seen.get(key) or {}
            same = last.get("version") == promotion.version and last.get("by") == promotion.recognised_by \
                and last.get("marker") == promotion.marker
            retry = same and last.get("status") == "failed" and last.get("specs") != item.spec_digest()
            if not same or retry:
                todo.append((item, promotion))
        for item, promotion in todo:
            if self.stopping.is_set():
                break  # stop between promotions: the rest are found again next time
            events = promotions.act([(item, promotion)], settings, registry=registry, trigger="watch",
                                    create_service=self.options.create_service)
            report.promotions.append(f"{promotion.registered_model} v{promotion.version} "
                                     f"({promotion.recognised_by} {promotion.marker})")
            report.problems += self.emitter.emit(events)
            report.events += len(events)
            for event in events:
                report.failures += promotions.failed(event)
                self.progress(_describe(event))
            seen[item.key] = _record(promotion, item, events)
            self.checkpoint.write(state)

    def _baseline(self, keys: dict[str, promotions.Watched], now: dict, registry: Any, report: PassReport) -> None:
        """A new checkpoint: bring the catalog in line once, record what is in Production, no events."""
        report.baseline = True
        promoted = [(keys[key], promotion) for key, promotion in now.items() if keys[key].specs]
        events = promotions.act(promoted, self.settings, registry=registry, trigger="watch",
                                create_service=self.options.create_service) if promoted else []
        state = {"version": CHECKPOINT_VERSION, "keys": {}}
        for (item, promotion), event in zip(promoted, events):
            state["keys"][item.key] = _record(promotion, item, [event])
            if promotions.failed(event):  # a catch-up that failed is a failed promotion: said, and exit 1
                report.failures += 1
                self.progress(_describe(event))
        for key, promotion in now.items():
            state["keys"].setdefault(key, _record(promotion, keys[key], []))
        self.checkpoint.write(state)
        failed = f", {report.failures} failed (retried once its spec changes)" if report.failures else ""
        self.progress(f"watch: new checkpoint {self.checkpoint.path}: {len(now)} model(s) in Production, "
                      f"{len(promoted) - report.failures} published to catch up{failed}; promotions from now on "
                      "become events")


def _record(promotion: Any, item: promotions.Watched, events: list[PromotionEvent]) -> dict[str, Any]:
    status = "failed" if any(promotions.failed(e) for e in events) else "done"
    return {"version": promotion.version, "by": promotion.recognised_by, "marker": promotion.marker,
            "specs": item.spec_digest(), "status": status}


def _describe(event: PromotionEvent) -> str:
    actions = ", ".join(f"{o.fqn or o.spec or ''} {o.action}".strip() for o in event.outcomes)
    return (f"watch: {event.registered_model} v{event.version} ({event.recognised_by} {event.marker}) -> "
            f"{actions or 'nothing to publish'}")
