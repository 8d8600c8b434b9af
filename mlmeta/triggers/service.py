"""``webhook serve`` and ``webhook work`` as services: the command line's values checked, the parts
started in order, readiness announced, and a stop signal turned into an orderly stop.

**Signals.** SIGTERM and SIGINT are caught from the first moment of the command - before anything
listens, so before readiness is announced: a service manager that stops the receiver right after
it became ready gets an orderly stop and exit 0, never a kill by the default action. The handler
does one thing: it stores the signal's number in an attribute - no lock, no I/O, nothing a second
signal could re-enter (``Event.set()`` in the handler once deadlocked a receiver given a burst of
SIGTERMs: the event's lock was taken again by the next signal, in the same thread). Python's own
C-level handler also writes the number to a pipe (``signal.set_wakeup_fd``); the main thread
sleeps on that pipe, so it wakes at once. A burst costs a few bytes in the pipe (a full pipe drops
them: one is enough), and a signal while stopping changes nothing. Once a stop signal was taken,
the process keeps ignoring SIGTERM and SIGINT until it exits: the rest of a burst cannot cut the
stop short.

**Order.** ``serve``: signals; settings; the state folder (exit 2 naming it when it cannot be
used); the listener bound (exit 2 naming ``--bind``/``--port``); the journal opened, the listener
serving, the worker acting; then the ready file (``{"url": ...}``, written atomically). Stopping:
the listener stops accepting and answers the requests in hand, the worker finishes the publish
under way, the rest stays in the journal; exit 0. ``work``: signals; the worker started (its
``/health`` and ``/metrics`` first, when asked); the worker runs until a stop signal, finishing
its batch.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import secrets, state
from mlmeta.errors import ConfigError, UsageError
from mlmeta.registry.table import kind_of

WEBHOOK_SPOOL = "webhook-spool.jsonl"  # in the receiver's --state-dir
STOPS = (signal.SIGTERM, signal.SIGINT)

Say = Callable[[str], None]


class StopSignals:
    """SIGTERM and SIGINT, caught while the ``with`` block runs: ``received`` is the first one's
    number (None until then), and ``wait`` sleeps until one comes."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._pipe: tuple[int, int] | None = None
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1

    def __enter__(self) -> StopSignals:
        read, write = os.pipe()
        for end in (read, write):
            os.set_blocking(end, False)
        self._pipe = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, self._note) for sig in STOPS}
        return self

    def _note(self, number: int, frame: Any) -> None:
        # the whole handler: one attribute written, the first signal kept
        if self.received is None:
            self.received = number

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a stop signal came (True) or ``timeout`` passed (False)."""
        if self.received is None:
            select.select([self._pipe[0]], [], [], timeout)
        try:
            while os.read(self._pipe[0], 512):  # the bytes the signals wrote
                pass
        except BlockingIOError:
            pass
        return self.received is not None

    def __exit__(self, *exc: Any) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for sig, previous in self._previous.items():
            # stopping because of a signal: the rest of its burst is ignored until the process exits
            signal.signal(sig, signal.SIG_IGN if self.received is not None else previous)
        for end in self._pipe:
            os.close(end)


# --- the command lines ---------------------------------------------------------------------------


@dataclass
class Timing:
    reconcile_interval: float = 3600.0
    retry_interval: float = 5.0
    max_backoff: float = 300.0


@dataclass
class ServeCommand:
    """What ``webhook serve`` was given."""

    bind: str = "127.0.0.1"
    port: int = 8686
    path: str = "/"
    secret_env: str = "MLMETA_WEBHOOK_SECRET"
    events: list[str] = field(default_factory=list)
    max_age: float = 300.0
    queue_size: int = 10_000
    state_dir: Path = Path(state.FOLDER)
    timing: Timing = field(default_factory=Timing)
    queue: str | None = None
    also_work: bool = False
    group: str = "mlmeta-webhook-workers"
    forward: str | None = None
    github_repository: str | None = None
    github_event_type: str = "mlflow-promotion"
    github_api_url: str = "https://api.github.com"
    sinks: list[str] = field(default_factory=list)
    spool: Path | None = None
    ready_file: Path | None = None
    create_service: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)  # where the servers are (load_settings)


@dataclass
class WorkCommand:
    """What ``webhook work`` was given."""

    queue: str | None = None
    group: str = "mlmeta-webhook-workers"
    timing: Timing = field(default_factory=Timing)
    sinks: list[str] = field(default_factory=list)
    create_service: bool = False
    bind: str = "127.0.0.1"
    port: int | None = None  # /health and /metrics; None: not served
    overrides: dict[str, Any] = field(default_factory=dict)


def _require(option: str, value: object, valid: bool, expected: str) -> None:
    if not valid:
        raise UsageError(f"{option} {value}: {expected}")


def _check_port(port: int) -> None:
    _require("--port", port, 0 <= port <= 65535, "a TCP port is between 1 and 65535 (0 picks a free one)")


def _check_timing(timing: Timing) -> None:
    _require("--reconcile-interval", timing.reconcile_interval, timing.reconcile_interval >= 0,
             "seconds between reconciliation passes, or 0 for only the one at start")
    _require("--retry-interval", timing.retry_interval, timing.retry_interval > 0, "must be more than 0 seconds")
    _require("--max-backoff", timing.max_backoff, timing.max_backoff >= timing.retry_interval,
             f"must be at least --retry-interval ({timing.retry_interval:g})")


def check_serve(command: ServeCommand) -> None:
    """The values of webhook serve's options that cannot work, alone or together: exit 2 naming
    the option (before anything is read or started)."""
    _check_port(command.port)
    _require("--path", command.path, command.path.startswith("/") and not set("?# ") & set(command.path),
             "the URL path MLflow posts to starts with / (e.g. / or /mlflow) and holds no ?, # or space")
    _require("--max-age", command.max_age, command.max_age > 0, "must be more than 0 seconds (a delivery's age)")
    _require("--queue-size", command.queue_size, command.queue_size >= 1, "at least 1 delivery must be able to wait")
    _check_timing(command.timing)
    if command.queue is None:
        if command.also_work:
            raise UsageError("--also-work works on a Kafka queue: give --queue kafka://host:port/topic")
        return
    from mlmeta.triggers.queue import parse_queue

    parse_queue(command.queue)
    if command.forward is not None:
        raise UsageError("--forward: with --queue, the workers publish; a dispatch is sent by a receiver with its "
                         "own journal (no --queue)")
    if command.spool is not None:
        raise UsageError("--spool: with --queue nothing waits on a disk: an event a sink cannot take is tried "
                         "again from the queue")
    if command.sinks and not command.also_work:
        raise UsageError("--sink: with --queue, the workers emit the events: give it to mlmeta webhook work "
                         "(or add --also-work)")


def _check_events_and_forward(command: ServeCommand) -> None:
    from mlmeta.triggers.webhook import ALWAYS, OPTIONAL

    unknown = [e for e in command.events if e not in OPTIONAL + ALWAYS]
    if unknown:
        raise UsageError(f"--event {unknown[0]}: mlmeta acts on {', '.join(ALWAYS + OPTIONAL)}")
    if command.forward is not None and (command.forward != "github-dispatch" or not command.github_repository):
        raise UsageError("--forward takes github-dispatch, with --github-repository OWNER/NAME")


# --- webhook serve ---------------------------------------------------------------------------------


def serve(command: ServeCommand, say: Say) -> int:
    """``webhook serve`` until a stop signal; 0 after an orderly stop."""
    with StopSignals() as signals:
        check_serve(command)
        receiver, worker, emitter = _receiver(command, say)
        working: _Running | None = None
        try:
            receiver.start()
            if worker is not None:  # --also-work: this process acts on the queue too; /metrics counts for both
                worker.metrics = receiver.metrics
                worker.start()
                working = _Running(worker)
            say(f"webhook: listening on {receiver.url} (health: /health, metrics: /metrics)"
                + (f"; deliveries go to {command.queue}" if command.queue else ""))
            if signals.received is None and command.ready_file is not None:
                announce_ready(command.ready_file, receiver.url)
            while not signals.wait(1.0):
                if working is not None and not working.alive:
                    working.raise_failure()
            say("webhook: stopping: no new deliveries; the publish under way finishes, the rest waits in the "
                + ("queue" if command.queue else "journal"))
        finally:
            receiver.stop()
            if working is not None:
                working.stop()
            if worker is not None:
                worker.close()  # leaves the group: its partitions go to the others at once
            emitter.close()
    return 0


def _receiver(command: ServeCommand, say: Say) -> tuple[Any, Any, Any]:
    """The receiver (bound, not started), the --also-work worker (or None) and the emitter."""
    from mlmeta.config import load_settings
    from mlmeta.events.sinks import Emitter
    from mlmeta.triggers.queue import parse_queue
    from mlmeta.triggers.webhook import ALWAYS, Receiver, WebhookOptions

    address = parse_queue(command.queue) if command.queue else None
    secret = os.environ.get(command.secret_env, "")
    if not secret:
        raise ConfigError(command.secret_env, "not set: the webhook's secret (the one given to MLflow) is needed to "
                                              "check every delivery's signature")
    secrets.register(secret)
    _check_events_and_forward(command)
    github_token = None
    if command.forward is not None:
        github_token = os.environ.get("GITHUB_TOKEN", "")
        if not github_token:
            raise ConfigError("GITHUB_TOKEN", "not set: a token allowed to create repository dispatches")
        secrets.register(github_token)
    settings = load_settings(command.overrides)
    kind = kind_of(settings.registry)
    if not kind.sends_webhooks:
        raise UsageError(f"webhook serve receives MLflow's webhooks; {kind.label} sends none "
                         f"(registry = {kind.name}, {settings.where('registry')}): follow it with mlmeta watch")
    worker = delivery_queue = None
    if address is None:
        settings.require_tracking_uri()
        usable_state_dir(command.state_dir)
        emitter = _emitter(command.sinks, command.spool or command.state_dir / WEBHOOK_SPOOL, settings)
    else:
        worker = _queue_worker(settings, WorkCommand(queue=command.queue, group=command.group, timing=command.timing,
                                                     sinks=command.sinks, create_service=command.create_service),
                               address, say) if command.also_work else None
        delivery_queue = _delivery_queue(address, settings)
        emitter = worker.events if worker else Emitter([], None)  # the workers emit, with their commit
    timing = command.timing
    options = WebhookOptions(secret=secret, host=command.bind, port=command.port, path=command.path,
                             events=tuple(dict.fromkeys(ALWAYS + tuple(command.events))), max_age=command.max_age,
                             queue_size=command.queue_size, state_dir=command.state_dir,
                             reconcile_interval=timing.reconcile_interval, retry_interval=timing.retry_interval,
                             max_backoff=timing.max_backoff, forward=command.forward,
                             github_repository=command.github_repository, github_token=github_token,
                             github_api_url=command.github_api_url.rstrip("/"),
                             github_event_type=command.github_event_type, create_service=command.create_service)
    try:
        return Receiver(settings, options, emitter, say, queue=delivery_queue), worker, emitter
    except OSError as error:
        emitter.close()
        raise UsageError(f"--bind/--port: cannot listen on {command.bind}:{command.port}: "
                         f"{error.strerror or error}") from None


def usable_state_dir(folder: Path) -> None:
    """A state folder that cannot be written stops the receiver at start, naming the path (exit 2)."""
    import tempfile

    from mlmeta.triggers.webhook import state_fix

    try:
        state.prepare(folder / "webhook.lock")  # the folder, private, with its .gitignore
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError("--state-dir", f"{folder} cannot be written: {error.strerror or error}",
                          hint=state_fix(error)) from None


def announce_ready(path: Path, url: str) -> None:
    """The ready file, whole or not at all (a reader never sees half of it)."""
    try:
        state.replace_file(path, json.dumps({"url": url}).encode(), durable=False)
    except OSError as error:
        raise UsageError(f"--ready-file: {path} cannot be written: {error.strerror or error}") from None


def _emitter(sinks: list[str], spool: Path | None, settings: Any) -> Any:
    from mlmeta.config import event_sinks
    from mlmeta.events.sinks import Emitter, parse_sink

    names = list(sinks) or event_sinks(settings) or ["-"]
    return Emitter([parse_sink(name, settings.limits()) for name in names], spool)


def _delivery_queue(address: Any, settings: Any) -> Any:
    """The receivers' producer, once the broker answered (exit 2 with its cause when it does not)."""
    from mlmeta.triggers.queue import ACCEPT_TIMEOUT, DeliveryQueue, connect

    connect(address, settings.limits().timeout)
    return DeliveryQueue(address, timeout=min(settings.limits().timeout, ACCEPT_TIMEOUT))


# --- webhook work ----------------------------------------------------------------------------------


def work(command: WorkCommand, say: Say) -> int:
    """``webhook work`` until a stop signal; 0 once its batch under way is done."""
    from mlmeta.config import load_settings
    from mlmeta.triggers.queue import parse_queue

    with StopSignals() as signals:
        if command.port is not None:
            _check_port(command.port)
        _check_timing(command.timing)
        if command.queue is None:
            raise UsageError("--queue is needed: the topic webhook serve --queue puts deliveries on",
                             hint="e.g. --queue kafka://kafka:9092/mlmeta.deliveries")
        address = parse_queue(command.queue)
        settings = load_settings(command.overrides)
        worker = _queue_worker(settings, command, address, say)
        status = _status_listener(command, worker)
        try:
            if status is not None:
                status.start()
            worker.start()
            if status is not None:
                say(f"work: health and metrics on http://{status.host}:{status.port}/health, /metrics")
            running = _Running(worker)
            while not signals.wait(1.0) and running.alive:
                pass
            running.stop()
            running.raise_failure()
            say("work: stopped after the batch under way; the group's other workers take the partitions")
            return 0
        finally:
            if status is not None:
                status.stop()
            worker.close()


def _queue_worker(settings: Any, command: WorkCommand, address: Any, say: Say) -> Any:
    from mlmeta.config import event_sinks
    from mlmeta.triggers.queue_worker import QueueWorker, WorkerOptions

    settings.require_tracking_uri()
    _require("--group", command.group, bool(re.fullmatch(r"[A-Za-z0-9._\-]{1,200}", command.group)),
             "letters, digits, '.', '_' and '-' (it names the state topic too)")
    sinks = list(command.sinks) or event_sinks(settings) or ["-"]
    timing = command.timing
    options = WorkerOptions(queue=address, group=command.group, reconcile_interval=timing.reconcile_interval,
                            retry_interval=timing.retry_interval, max_backoff=timing.max_backoff,
                            create_service=command.create_service, sinks=sinks)
    return QueueWorker(settings, options, say)


def _status_listener(command: WorkCommand, worker: Any) -> Any:
    """webhook work's /health and /metrics (no POST route), when --port is given."""
    from mlmeta.triggers.listener import Listener
    from mlmeta.triggers.metrics import CONTENT_TYPE

    if command.port is None:
        return None
    try:
        return Listener(command.bind, command.port, health=worker.health, metrics=lambda: worker.metrics.text(),
                        metrics_type=CONTENT_TYPE)
    except OSError as error:
        raise UsageError(f"--bind/--port: cannot listen on {command.bind}:{command.port}: "
                         f"{error.strerror or error}") from None


class _Running:
    """A queue worker's ``run`` on a thread of its own (the main thread waits for signals); what it
    raised is raised again in the main thread, so its exit code is the command's."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mlmeta-queue-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.failure = error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self.worker.stop()
        self._thread.join(timeout=120)

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
