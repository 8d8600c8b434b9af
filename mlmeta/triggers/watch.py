"""``mlmeta watch``: poll the registry, publish what reached Production, emit one event each.

Each pass (``follow.Follower``, shared with ``webhook serve``) re-reads the specs, reads every
watched registered model in one paged ``registered-models/search`` (aliases change no timestamp,
so the alias maps themselves are compared, never timestamps), and compares what is in
Production with the checkpoint: a new version under an alias or a stage is a promotion. A lock
file beside the checkpoint lets only one process work on it at a time (``flock``): a second
watcher waits for the first to finish its pass, then finds nothing left to do. A crash between
publishing and writing the checkpoint means the next pass publishes again - unchanged, so
harmless - and emits the same event id again.

A server that is down stops the pass; the watcher then probes both servers every interval
(``outage``) and passes again as soon as they answer - so a catalog down for 30 s gets its
promotion within one interval of coming back - and says once that they are down and once that
they are back. A configuration error stops the watcher. SIGTERM and SIGINT stop it cleanly between
promotions.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError
from mlmeta.events.sinks import Emitter
from mlmeta.triggers.follow import Checkpoint, Follower, PassReport
from mlmeta.triggers.outage import Outage

log = logging.getLogger("mlmeta.watch")


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


class Watcher:
    def __init__(self, settings: Settings, options: WatchOptions, emitter: Emitter,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self.settings = settings
        self.options = options
        self.emitter = emitter
        self.progress = progress
        self.checkpoint = Checkpoint(options.checkpoint)
        self.stopping = threading.Event()
        self.follower = Follower(settings, self.checkpoint, emitter, trigger="watch", paths=options.paths,
                                 all_models=options.all_models, create_service=options.create_service,
                                 progress=progress, stopping=self.stopping)
        self.outage = Outage(progress, "watch", options.interval, options.max_backoff)

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Pass after pass until stopped (or one pass with ``once``); the exit code."""
        while not self.stopping.is_set():
            if self.outage.down and not self.outage.may_retry(self.follower.registry_settings):
                self.stopping.wait(self._interval())
                continue
            try:
                report = self.run_pass()
            except ConfigError:
                raise  # a wrong setting does not fix itself
            except ServerError as error:
                if self.options.once:
                    raise
                self.outage.failed(str(error))
                self.stopping.wait(self._interval())
                continue
            self.outage.recovered()
            if self.options.once:
                return 1 if (report.failures or report.problems or report.transient) else 0
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

    # --- one pass ------------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        with self.checkpoint.locked(wait=None if self.options.once else self.options.interval) as mine:
            if not mine:
                self.progress(f"watch: another process holds {self.checkpoint.path}; skipping this pass")
                return PassReport()
            started = time.monotonic()
            report = self.follower.follow()
        for line in report.problems:
            self.progress(f"watch: {line}")
        log.debug("pass done in %.2f s: %d promotion(s)", time.monotonic() - started, len(report.promotions))
        return report
