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
they are back. A registry that keeps failing (5xx after the retries) counts as down too. A
configuration error stops the watcher, and so does a checkpoint it cannot keep: a folder that is a
file, that it may not write, a checkpoint that is a folder, a lock file that is a symlink - each
said at start, in one line naming the path and the fix (exit 2). SIGTERM and SIGINT stop it
cleanly between promotions.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeta import state
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError, UsageError
from mlmeta.events.sinks import Emitter
from mlmeta.registry.table import kind_of
from mlmeta.registry.types import RegistryError
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
    select: list | None = None  # mlmeta.spec.selection.Selector: only the specs one of them matches
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
                                 select=options.select, all_models=options.all_models, create_service=options.create_service,
                                 progress=progress, stopping=self.stopping)
        self.outage = Outage(progress, "watch", options.interval, options.max_backoff)

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        """Pass after pass until stopped (or one pass with ``once``); the exit code."""
        usable_checkpoint(self.checkpoint)
        while not self.stopping.is_set():
            if self.outage.down and not self.outage.may_retry(self.follower.registry_settings):
                self.stopping.wait(self._interval())
                continue
            try:
                report = self._pass_or_server_error()
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
        # jitter spreads many watchers' polls; it guards nothing (B311)
        return max(0.1, self.options.interval + random.uniform(-spread, spread))  # nosec B311

    # --- one pass ------------------------------------------------------------------------------

    def _pass_or_server_error(self) -> PassReport:
        """A pass; a registry that kept failing is a server down (ServerError), and a file of the
        checkpoint's folder that cannot be written a ConfigError naming it - neither is a bug."""
        try:
            return self.run_pass()
        except RegistryError as error:
            if not error.transient:
                raise
            raise ServerError(str(error), hint="the registry is failing (its logs say why); rerun when it is "
                                               "healthy, -v shows every retry") from None
        except OSError as error:
            if error.filename is None or _folder(error.filename) != _folder(self.checkpoint.path):
                raise
            raise _unusable(self.checkpoint, error) from None

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


def run_watch(settings: Settings, options: WatchOptions, open_emitter: Callable[[], Emitter],
              progress: Callable[[str], None]) -> int:
    """``mlmeta watch``: pass after pass until a stop signal (or one pass with ``once``); the emitter
    is opened once the options are known to hold, and closed however the watch ends."""
    kind = kind_of(settings.registry)
    if options.all_models and not kind.has_default_production:
        raise UsageError(f"--all-models: {kind.label} has no default Production marker (each spec "
                         "declares its own), so only the specs' models can be watched")
    emitter = open_emitter()
    watcher = Watcher(settings, options, emitter, progress)
    try:
        with watcher.signals_stop_it():
            return watcher.run()
    finally:
        emitter.close()


# --- the checkpoint's folder ----------------------------------------------------------------------


def usable_checkpoint(checkpoint: Checkpoint) -> None:
    """The checkpoint can be kept: its folder exists or can be made, mlmeta may write in it, and
    neither the checkpoint nor its lock is something else (a folder, a symlink). Said at start,
    with the path and the fix, rather than as a crash at the first write."""
    if checkpoint.path.is_dir():
        raise ConfigError(f"--checkpoint {checkpoint.path}", "is a folder, not a file",
                          hint=f"name a file, e.g. --checkpoint {checkpoint.path / 'watch-checkpoint.json'}")
    try:
        state.open_private(checkpoint.lock_path).close()  # creates the folder and the lock, as a pass would
        # and a temporary file beside them, as replacing the checkpoint will (the lock may be an old one)
        with tempfile.NamedTemporaryFile(dir=checkpoint.path.parent, prefix=f".{checkpoint.path.name}.",
                                         suffix=".tmp"):
            pass
    except OSError as error:
        raise _unusable(checkpoint, error) from None


def _folder(path: Any) -> str:
    return os.path.dirname(os.path.abspath(path))  # no symlink is resolved: a loop cannot stop it


def _unusable(checkpoint: Checkpoint, error: OSError) -> ConfigError:
    """The ConfigError for a checkpoint whose folder or files cannot be used: what, where, and the fix."""
    folder, where = checkpoint.path.parent, f"--checkpoint {checkpoint.path}"
    other = "or choose another place with --checkpoint"
    blocking = _in_the_way(folder)
    if blocking is not None:
        return ConfigError(where, f"its folder {folder} cannot be made: {blocking}", hint=f"move it away, {other}")
    if error.errno == errno.ELOOP:
        return ConfigError(where, f"{error.filename} is a symlink, and mlmeta never writes through one",
                           hint=f"remove the symlink, {other}")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ConfigError(where, f"mlmeta may not write in {folder} ({error.strerror})",
                           hint=f"let this user write there, {other}")
    return ConfigError(where, f"cannot be written in {folder}: {error.strerror} ({error.filename})",
                       hint=f"check that folder, {other}")


def _in_the_way(folder: Path) -> str | None:
    """What stands where the checkpoint's folder (or one above it) should be: a file, or a symlink to no folder."""
    for path in reversed((folder, *folder.parents)):
        if os.path.lexists(path) and not path.is_dir():
            return f"{path} is {'a symlink to no folder' if path.is_symlink() else 'a file'}"
    return None
