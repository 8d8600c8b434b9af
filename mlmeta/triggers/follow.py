"""Following the registry: what is in Production against what was last acted on, and acting on the
difference - the one code path of ``watch`` (every pass) and ``webhook serve`` (each delivery, and
its reconciliation passes), with one state format, the checkpoint.

The checkpoint (JSON, written atomically and fsync'd) records, per watch key, the promotion last
acted on, a digest of its specs, whether that ended ``done`` or ``failed``, and its generation: a
count of the outcomes settled for the key, one more for each promotion acted on (and each retry of
a failed one after its spec changed). An event's id includes the generation (``mlmeta.events``), so
promote v2, roll back to v1, promote v2 again are three ids, while a retry of one - not recorded
yet, so counted the same - keeps its id. A promotion is
acted on when it differs from the record, or when it failed and its specs changed since (a fixed
spec is retried; a plainly invalid one is not hammered). Its specs go through the publish
pipeline, then it becomes one event - only once its outcome is final: a publish that failed for a
transient cause (a server down, 5xx, a timeout) is neither recorded nor announced, so the next
try does it again and its event, whose id is stable, is emitted once, with the outcome that
stuck. A server that cannot be reached at all stops the pass (``ServerError``); the caller
retries.

The first pass on a new checkpoint is a baseline: it brings the catalog in line with what is in
Production and records it, without events (nothing was promoted while mlmeta was watching); a
catch-up that failed is reported as a failure and retried once its spec changes.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import state
from mlmeta.config import Settings
from mlmeta.errors import ConfigError
from mlmeta.events import PromotionEvent
from mlmeta.events.sinks import Emitter
from mlmeta.registry.types import Promotion, version_label
from mlmeta.triggers import promotions

CHECKPOINT_VERSION = 1
# Promotions published in one pipeline run: one batched registry read and the publish's own
# concurrency for all of them (one run per promotion was ~0.7 s each), while a stop request still
# waits for no more than one batch.
ACT_TOGETHER = 32


@dataclass
class PassReport:
    """One pass: what it saw and did (progress lines, metrics and tests read it)."""

    models: int = 0
    promotions: list[str] = field(default_factory=list)
    events: int = 0
    failures: int = 0  # final failures (a spec to fix)
    transient: list[str] = field(default_factory=list)  # registered models to try again (a server's fault)
    baseline: bool = False
    problems: list[str] = field(default_factory=list)
    acted: list[tuple[PromotionEvent, float | None]] = field(default_factory=list)  # event, seconds since promoted


class Checkpoint:
    """``{"version": 1, "keys": {watch key: {"version", "by", "marker", "specs", "status", "generation"}}}``
    (a record without ``generation``, written before it was counted, counts as 0)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def locked(self, wait: float | None) -> Iterator[bool]:
        """Hold the checkpoint's lock; yields False when another process kept it past ``wait``."""
        with state.open_private(self.lock_path) as handle:
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
        state.write_durably(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")


class Follower:
    """Acts on what reached Production since the checkpoint; thread-safe (one pass at a time). The
    caller holds the checkpoint's lock around a pass (``Checkpoint.locked``), so that processes
    sharing a checkpoint take turns."""

    def __init__(self, settings: Settings, checkpoint: Checkpoint, emitter: Emitter, *, trigger: str,
                 paths: list[Path] | None = None, select: list | None = None, all_models: bool = False,
                 create_service: bool = False,
                 progress: Callable[[str], None] = lambda line: None,
                 stopping: threading.Event | None = None,
                 forward: Callable[[Promotion], None] | None = None) -> None:
        self.settings = settings
        self.checkpoint = checkpoint
        self.emitter = emitter
        self.trigger = trigger
        self.paths = paths
        self.select = select or []  # mlmeta.spec.selection.Selector: the specs to follow among those found
        self.all_models = all_models
        self.create_service = create_service
        self.progress = progress
        self.stopping = stopping or threading.Event()
        self.forward = forward  # instead of publishing here: hand each promotion on (a repository dispatch)
        self.registry_settings = settings  # with the registry the specs name (registries.settings_for), per pass
        self._one_at_a_time = threading.Lock()

    def follow(self, names: Collection[str] | None = None, *,
               announced: dict[str, float] | None = None) -> PassReport:
        """One pass over every watched model, or only over ``names`` (a webhook's deliveries);
        ``announced``: when the registry announced each model's promotion (epoch seconds)."""
        with self._one_at_a_time:
            report = PassReport()
            report.problems += self.emitter.emit([])  # what a sink could not take last time goes first
            self._pass(report, names, announced or {})
            return report

    def _pass(self, report: PassReport, names: Collection[str] | None, announced: dict[str, float]) -> None:
        from mlmeta.registry.table import open_registry, settings_for
        from mlmeta.commands.validate import validate_files

        validation = validate_files(promotions.spec_files(self.settings, self.paths),
                                    default_service=self.settings.service, service_required=True,
                                    policy=self.settings.card_policy)
        settings = self.registry_settings = settings_for(validation.specs(), self.settings)
        for file in validation.files:
            if not file.valid and self._chosen(file.spec, file.path):
                report.problems.append(f"{file.path} is invalid and not watched: "
                                       f"{next(d.message for d in file.diagnostics if d.is_error)}")
        specs = [s for s in validation.specs() if (names is None or s.spec.registered_model in names)
                 and self._chosen(s, s.display_path)]
        registry = open_registry(settings)
        if self.all_models and names is None:
            listed = registry.all_registered_models()
        else:
            registry.prefetch(sorted({s.spec.registered_model for s in specs} | set(names or ())))
            listed = registry.known_models()
        models = {m["name"]: m for m in listed}
        extra = list(models) if self.all_models else []
        keys = promotions.watched(specs, settings, extra, report.problems)
        report.models = len(models)
        now = promotions.current(registry, keys, models, report.problems)
        recorded = self.checkpoint.read()
        if recorded is None:
            self._baseline(keys, now, registry, report)
            return
        seen = recorded["keys"]
        todo = [(keys[key], promotion) for key, promotion in now.items()
                if _due(seen.get(key) or {}, promotion, keys[key])]
        if self.forward is not None:
            self._forward(todo, recorded, report)
            return
        for batch in _batches(todo, ACT_TOGETHER):
            if self.stopping.is_set():
                break  # stop between batches: the rest are found again next time
            generations = [_next_generation(seen.get(item.key)) for item, _ in batch]
            events = promotions.act(batch, settings, registry=registry, trigger=self.trigger,
                                    generations=generations, create_service=self.create_service)
            for (item, promotion), event in zip(batch, events):
                self._settle(item, promotion, event, recorded, announced, report)
            self.checkpoint.write(recorded)

    def _chosen(self, spec: Any, shown_path: str) -> bool:
        """Selected by --select (every spec, without one)."""
        return not self.select or any(chosen.matches(spec, shown_path) for chosen in self.select)

    def _forward(self, todo: list, recorded: dict[str, Any], report: PassReport) -> None:
        """Hand each promotion on; a server refusing raises ServerError: tried again, not recorded."""
        for item, promotion in todo:
            if self.stopping.is_set():
                break
            self.forward(promotion)
            report.promotions.append(f"{promotion.registered_model} {version_label(promotion.version)} (forwarded)")
            generation = _next_generation(recorded["keys"].get(item.key))
            recorded["keys"][item.key] = _record(promotion, item, [], generation)
            self.checkpoint.write(recorded)

    def _settle(self, item: promotions.Watched, promotion: Any, event: PromotionEvent, recorded: dict[str, Any],
                announced: dict[str, float], report: PassReport) -> None:
        """Announce and record one promotion's outcome - unless a server failed it: not final yet."""
        if promotions.transient(event):
            report.transient.append(promotion.registered_model)
            self.progress(f"{self.trigger}: {promotion.registered_model} {version_label(promotion.version)}: "
                          "a server failed; tried again later")
            return  # neither recorded nor announced
        report.promotions.append(f"{promotion.registered_model} {version_label(promotion.version)} "
                                 f"({promotion.recognised_by} {promotion.marker})")
        report.problems += self.emitter.emit([event])
        report.events += 1
        report.failures += promotions.failed(event)
        report.acted.append((event, _since(announced.get(event.registered_model), event)))
        self.progress(describe(event, self.trigger))
        generation = _next_generation(recorded["keys"].get(item.key))
        recorded["keys"][item.key] = _record(promotion, item, [event], generation)

    def _baseline(self, keys: dict[str, promotions.Watched], now: dict, registry: Any, report: PassReport) -> None:
        """A new checkpoint: bring the catalog in line once, record what is in Production, no events."""
        report.baseline = True
        # forwarding: the repository's workflow publishes; the baseline only records what it found
        promoted = [] if self.forward else [(keys[key], p) for key, p in now.items() if keys[key].specs]
        # nothing is announced: the records start at generation 0, the first promotion seen is 1
        events = promotions.act(promoted, self.settings, registry=registry, trigger=self.trigger,
                                generations=[0] * len(promoted), create_service=self.create_service
                                ) if promoted else []
        recorded = {"version": CHECKPOINT_VERSION, "keys": {}}
        for (item, promotion), event in zip(promoted, events):
            if promotions.transient(event):
                report.transient.append(promotion.registered_model)
                continue  # not recorded: the next pass acts on it (and announces it)
            recorded["keys"][item.key] = _record(promotion, item, [event], 0)
            if promotions.failed(event):  # a catch-up that failed is a failed promotion: said, and exit 1
                report.failures += 1
                self.progress(describe(event, self.trigger))
        for key, promotion in now.items():
            if promotion.registered_model not in report.transient:
                recorded["keys"].setdefault(key, _record(promotion, keys[key], [], 0))
        self.checkpoint.write(recorded)
        failed = f", {report.failures} failed (retried once its spec changes)" if report.failures else ""
        later = f", {len(report.transient)} left for a server to come back" if report.transient else ""
        self.progress(f"{self.trigger}: new checkpoint {self.checkpoint.path}: {len(now)} model(s) in Production, "
                      f"{len(promoted) - report.failures - len(report.transient)} published to catch up{failed}"
                      f"{later}; promotions from now on become events")


def _batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _due(last: dict[str, Any], promotion: Any, item: promotions.Watched) -> bool:
    same = (last.get("version"), last.get("by"), last.get("marker")) == (
        promotion.version, promotion.recognised_by, promotion.marker)
    return not same or (last.get("status") == "failed" and last.get("specs") != item.spec_digest())


def _next_generation(last: dict[str, Any] | None) -> int:
    """The generation of the outcome about to be settled for a watch key: one more than the last
    recorded. Worked out from the record, not kept in memory, so a retry that was never recorded
    (a server failed, a crash before the checkpoint's write, a Kafka batch read again) gets the same."""
    return int((last or {}).get("generation") or 0) + 1


def _record(promotion: Any, item: promotions.Watched, events: list[PromotionEvent], generation: int
            ) -> dict[str, Any]:
    status = "failed" if any(promotions.failed(e) for e in events) else "done"
    return {"version": promotion.version, "by": promotion.recognised_by, "marker": promotion.marker,
            "specs": item.spec_digest(), "status": status, "generation": generation}


def _since(announced: float | None, event: PromotionEvent) -> float | None:
    """Seconds from the promotion to now (the catalog write): from the registry's announcement (a
    webhook's timestamp), else from the version's last update (a stage transition moves it; an
    alias moves nothing, so a watched alias has no such figure)."""
    if announced is None and event.recognised_by == "stage":
        stamp = event.model_version.get("last_updated_timestamp")
        announced = int(stamp) / 1000 if stamp else None
    return None if announced is None else max(0.0, time.time() - announced)


def describe(event: PromotionEvent, trigger: str) -> str:
    actions = ", ".join(f"{o.fqn or o.spec or ''} {o.action}".strip() for o in event.outcomes)
    return (f"{trigger}: {event.registered_model} {version_label(event.version)} "
            f"({event.recognised_by} {event.marker}) -> "
            f"{actions or 'nothing to publish'}")

