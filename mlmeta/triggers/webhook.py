"""``mlmeta webhook serve``: MLflow (>= 3.3) webhooks in, publishes (or dispatches) and events out -
and no promotion lost: persist, then acknowledge, then act with retries, and reconcile as the
backstop (the delivery guarantees of GitHub's and Stripe's webhook consumers).

1. Received by waitress (``listener``: read deadlines, a connection cap, lengths checked before
   any read, no traceback, no banner), then checked before anything is parsed: a body of at most
   64 KiB (413), the three ``X-MLflow-*`` headers (400), a finite timestamp no older (or newer)
   than ``max_age`` (401 stale; ``nan``/``inf`` 400), ``X-MLflow-Signature`` = ``v1,`` +
   base64(HMAC-SHA256(secret, ``{delivery id}.{timestamp}.{raw body}``)), compared in constant
   time (401). Only then is the JSON read (nested at most ``MAX_DEPTH`` deep, else 400) - payloads
   are untrusted: only the registered model's name is taken from it - and the delivery id is
   checked against the ids accepted while a replay of them could still pass (409 replayed; kept
   on disk across restarts: ``replay``).
2. Events mlmeta listens to: ``model_version_alias.created`` always; ``model_version.created``
   and ``model_version_tag.set`` when asked (``--event``). Others are acknowledged and ignored.
3. The delivery is appended to the journal and fsync'd (``journal``), its id written down, and
   only then answered 202; a full journal (``queue_size`` deliveries waiting) or one that cannot be
   written answers 503 with ``Retry-After`` - MLflow retries 5xx and 429, so nothing is dropped
   silently. With ``--queue kafka://...`` the delivery goes to a Kafka topic instead, answered 202
   once the broker acknowledged it (``queue``); the workers of a consumer group act on it
   (``queue_worker``), and this process keeps no journal and no worker of its own.
4. A worker takes every waiting entry at once (a burst for one model is one pass), re-reads the
   registry and acts through ``follow.Follower`` - the code path and checkpoint format ``watch``
   uses: for each spec of those models whose Production version changed since it was last acted
   on, it publishes through the same pipeline as ``mlmeta publish`` (or, with ``--forward
   github-dispatch``, sends a ``repository_dispatch`` so the repository's own workflow
   publishes) and emits one event per promotion. Entries are marked done once acted on; a server
   that is down keeps them, probed every ``retry_interval`` and acted on as soon as it answers; a
   spec that is plainly invalid fails once and stays failed until it changes. A pass that fails
   for a reason of its own is split: each model alone, and a model that fails alone is set aside
   (``deadletter``) - its deliveries recorded and marked done, so it holds up no other model and
   no reconciliation.
5. Reconciliation: one pass over every watched model when the receiver starts (after one attempt
   at the entries an earlier run left, whatever its outcome), and another every
   ``reconcile_interval`` - so a promotion MLflow never delivered (its 60 s webhook cache, a
   network split) is still published within that interval.

``/health`` answers 200 ``ok`` while the journal can be read and written and nothing stops the
work; 200 ``degraded`` naming the models set aside and why; 503 with the reason when the work
cannot go on by itself. ``/metrics`` answers in the Prometheus text format. Two receivers cannot
share a state directory: the second exits naming the first. Stopping (``service``) closes the
listener, finishes the publish under way, and leaves the rest in the journal for the next start.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import secrets, state
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError, UsageError
from mlmeta.events.sinks import Emitter
from mlmeta.triggers.deadletter import Letter, SetAside, health_of, reason_of, transient
from mlmeta.triggers.follow import CHECKPOINT_VERSION, Checkpoint, Follower, PassReport
from mlmeta.triggers.journal import Entry, Journal, JournalFull
from mlmeta.triggers.listener import MAX_BODY, Listener
from mlmeta.triggers.metrics import CONTENT_TYPE, Metrics
from mlmeta.triggers.outage import Outage
from mlmeta.triggers.queue import DeliveryQueue, QueueUnavailable
from mlmeta.triggers.replay import SeenDeliveries, TooManyDeliveries

log = logging.getLogger("mlmeta.webhook")
ALWAYS = ("model_version_alias.created",)
OPTIONAL = ("model_version.created", "model_version_tag.set")
MAX_DEPTH = 32  # nesting of the payload's JSON: MLflow's is 3 deep
MAX_NAME = 1024  # characters of a registered model's name in a payload
_DELIVERY_ID = re.compile(r"[!-~]{1,128}")  # MLflow's are UUIDs: printable ASCII, bounded (they are kept)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_JSON_STRUCTURE = re.compile(rb'[\[\]{}"\\]')
JOURNAL = "webhook-journal.jsonl"
CHECKPOINT = "webhook-checkpoint.json"
SEEN = "webhook-deliveries.jsonl"
DEAD_LETTERS = "webhook-dead-letters.jsonl"
LOCK = "webhook.lock"

__all__ = ["ALWAYS", "MAX_BODY", "OPTIONAL", "Receiver", "WebhookOptions", "read_payload", "signature"]


@dataclass
class WebhookOptions:
    secret: str = field(repr=False)
    host: str = "127.0.0.1"  # the address to bind
    port: int = 8686
    path: str = "/"
    events: tuple[str, ...] = ALWAYS
    max_age: float = 300.0  # seconds a delivery's timestamp may be off
    queue_size: int = 10_000  # deliveries waiting in the journal at most; then 503
    state_dir: Path = Path(state.FOLDER)  # the journal, the checkpoint, the delivery ids, the lock
    reconcile_interval: float = 3600.0  # seconds between reconciliation passes; 0: only at start
    retry_interval: float = 5.0  # seconds between probes of a server that is down
    max_backoff: float = 300.0  # longest wait of work that keeps failing while the servers answer
    forward: str | None = None  # None: publish here; "github-dispatch": let the repository publish
    github_repository: str | None = None  # owner/name
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = "https://api.github.com"
    github_event_type: str = "mlflow-promotion"
    create_service: bool = False


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """What MLflow sends in X-MLflow-Signature for this delivery."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Verdict:
    """What the checks of step 1 say: ``status`` 0 when the delivery is authentic and fresh."""

    status: int
    reason: str = ""
    delivery_id: str = ""
    sent_at: float = 0.0


class Deliveries:
    """The checks of step 1 that need no memory: headers, freshness, signature."""

    def __init__(self, secret: str, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.max_age = max_age
        self._clock = clock

    def check(self, headers: dict[str, str], body: bytes) -> Verdict:
        delivery_id = headers.get("x-mlflow-delivery-id", "")
        timestamp = headers.get("x-mlflow-timestamp", "")
        given = headers.get("x-mlflow-signature", "")
        if not (delivery_id and timestamp and given):
            return Verdict(400, "missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature")
        if not _DELIVERY_ID.fullmatch(delivery_id):
            return Verdict(400, "X-MLflow-Delivery-Id is not an id (at most 128 printable characters)")
        try:
            sent_at = float(timestamp)
        except ValueError:
            return Verdict(400, "X-MLflow-Timestamp is not a number")
        if not math.isfinite(sent_at):  # nan compares false with everything: it would pass any window
            return Verdict(400, "X-MLflow-Timestamp is not a finite number")
        if abs(self._clock() - sent_at) > self.max_age:
            return Verdict(401, "stale delivery: its timestamp is too far from now")
        if not hmac.compare_digest(given.encode(), signature(self._secret, delivery_id, timestamp, body).encode()):
            return Verdict(401, "bad signature")
        return Verdict(0, delivery_id=delivery_id, sent_at=sent_at)


def read_payload(body: bytes) -> tuple[str, str] | None:
    """(event, registered model name) of an MLflow webhook payload; None when the body is not one
    (not JSON, nested deeper than ``MAX_DEPTH``, fields missing, a name with control characters)."""
    if _nested_deeper_than(body, MAX_DEPTH):  # before json.loads recurses into it
        return None
    try:
        payload = json.loads(body)
        entity, action, name = payload["entity"], payload["action"], payload["data"]["name"]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        return None
    if not all(isinstance(value, str) and value for value in (entity, action, name)):
        return None
    if len(name) > MAX_NAME or _CONTROL.search(name):  # a newline in a name would forge log lines
        return None
    return f"{entity[:100]}.{action[:100]}", name


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether JSON text opens more than ``limit`` arrays or objects inside each other - one linear
    scan over the structural characters, strings and their escapes skipped."""
    depth, in_string, skip_until = 0, False, -1
    for match in _JSON_STRUCTURE.finditer(body):
        at = match.start()
        if at < skip_until:
            continue  # the character after a backslash
        char = body[at:at + 1]
        if in_string:
            if char == b"\\":
                skip_until = at + 2
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


class _Baselines:
    """The checkpoint as passes over one model at a time see it when there was none yet (a first
    start whose pass had to be split): each pass is that model's baseline - published to catch up,
    recorded, no event - written into the one checkpoint beside the others'."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.path = checkpoint.path

    def read(self) -> None:
        return None

    def write(self, data: dict[str, Any]) -> None:
        whole = self.checkpoint.read() or {"version": CHECKPOINT_VERSION, "keys": {}}
        whole["keys"].update(data["keys"])
        self.checkpoint.write(whole)


def state_fix(error: OSError) -> str:
    """What to do about a state folder (or a file in it) that mlmeta cannot use."""
    if error.errno == errno.ELOOP:
        return "a symbolic link stands there; mlmeta follows none in its state folder: remove it"
    if error.errno in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST):
        return "something else stands where mlmeta keeps its state (a folder for a file, or a file for a folder): " \
               "move it away, or choose another --state-dir"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "give this user write access to it, or choose another --state-dir"
    return "fix it, or choose another --state-dir"


def state_dir_error(error: OSError, folder: Path) -> ConfigError:
    """A state folder mlmeta cannot use, as one line naming the path and the fix (exit 2)."""
    return ConfigError("--state-dir", f"{error.filename or folder} cannot be used: {error.strerror or error}",
                       hint=state_fix(error))


class Receiver:
    """The HTTP side: check, parse, journal; and the worker that acts on the journal."""

    def __init__(self, settings: Settings, options: WebhookOptions, emitter: Emitter,
                 progress: Callable[[str], None] = lambda line: None, queue: DeliveryQueue | None = None) -> None:
        self.settings = settings
        self.queue = queue  # Kafka instead of the journal: the workers of its consumer group act (queue_worker)
        self.options = options
        self.emitter = emitter
        self.progress = progress
        self.deliveries = Deliveries(options.secret, options.max_age)
        folder = options.state_dir
        self.journal = Journal(folder / JOURNAL, limit=options.queue_size)
        self.checkpoint = Checkpoint(folder / CHECKPOINT)
        self.seen = SeenDeliveries(None if queue is not None else folder / SEEN)
        self.set_aside = SetAside(folder / DEAD_LETTERS)
        self.stopping = threading.Event()
        self.follower = self._follower(self.checkpoint)
        self.outage = Outage(progress, "webhook", options.retry_interval, options.max_backoff)
        self.metrics = Metrics(lambda: self.journal.depth, lambda: len({e.model for e in self.journal.waiting()}),
                               emitter, set_aside=lambda: len(self.set_aside.models))
        self.handled = 0  # journal entries acted on (tests and progress read it)
        self.reconciled = threading.Event()  # the first reconciliation pass is done
        self.not_ready: str | None = None  # why /health says 503
        self._lock_handle: Any = None
        self.listener = Listener(options.host, options.port, health=self.health, metrics=self.metrics.text,
                                 metrics_type=CONTENT_TYPE, receive=self.receive)
        self._worker = threading.Thread(target=self._work, name="mlmeta-webhook-worker", daemon=True)

    def _follower(self, checkpoint: Any) -> Follower:
        options = self.options
        return Follower(self.settings, checkpoint, self.emitter, trigger="webhook",
                        create_service=options.create_service, progress=self.progress, stopping=self.stopping,
                        forward=self._dispatch if options.forward == "github-dispatch" else None)

    @property
    def url(self) -> str:
        return f"http://{self.listener.host}:{self.listener.port}{self.options.path}"

    def start(self) -> Receiver:
        if self.queue is None:
            try:
                self._start_journal()
            except BaseException as error:
                self.listener.stop()
                self._release_state()
                if isinstance(error, OSError):
                    raise state_dir_error(error, self.options.state_dir) from None
                raise
        self.listener.start()
        if self.queue is None:
            self._worker.start()
        return self

    def _start_journal(self) -> None:
        self._take_state_dir()
        recovery = self.journal.open()
        self.seen.open()
        if recovery.damaged is not None:
            self.progress(f"webhook: the journal ended in {recovery.damaged_bytes} damaged bytes (a crash mid-write?): "
                          f"read up to its last complete entry; the rest is kept in {recovery.damaged}")
        if recovery.open_entries:
            self.progress(f"webhook: {recovery.open_entries} delivery(ies) accepted by an earlier run are acted on first")

    def _take_state_dir(self) -> None:
        """One receiver per state directory: a second one would act on the same journal."""
        handle = state.open_private(self.options.state_dir / LOCK)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read(32).decode(errors="replace").strip() or "?"
            handle.close()
            raise UsageError(f"--state-dir: another mlmeta webhook serve (pid {holder}) works on "
                             f"{self.options.state_dir}",
                             hint="give each receiver its own --state-dir") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        self._lock_handle = handle

    def stop(self) -> None:
        """Stop accepting, finish the publish under way, keep the rest in the journal."""
        self.stopping.set()
        self.listener.stop()
        if self.queue is not None:
            self.queue.close()
            return
        self.journal.wake()
        if self._worker.is_alive():
            self._worker.join(timeout=120)
        self._release_state()

    def _release_state(self) -> None:
        self.journal.close()
        self.seen.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    # --- receiving ------------------------------------------------------------------------------

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict]:
        """(status, JSON answer, extra headers) for one POST."""
        if path != self.options.path:
            return 404, {"error": "not found"}, {}
        verdict = self.deliveries.check(headers, body)
        if verdict.status:
            self.progress(f"webhook: refused a delivery ({verdict.status}: {verdict.reason})")
            return verdict.status, {"error": verdict.reason}, {}
        parsed = read_payload(body)
        if parsed is None:
            return 400, {"error": "not an MLflow webhook payload"}, {}
        event, name = parsed
        if event not in self.options.events:
            return 200, {"ignored": event}, {}
        try:
            if not self.seen.claim(verdict.delivery_id, verdict.sent_at + self.options.max_age):
                self.progress(f"webhook: refused a delivery (409: replayed delivery id {verdict.delivery_id})")
                return 409, {"error": "replayed delivery id"}, {}
        except TooManyDeliveries:
            return 503, {"error": "busy: too many deliveries in the replay window"}, {"Retry-After": "10"}
        answer = self._keep(name, verdict, event)
        if answer[0] != 202:
            self.seen.release(verdict.delivery_id)  # not accepted: MLflow's retry is not a replay
        return answer

    def _keep(self, name: str, verdict: Verdict, event: str) -> tuple[int, dict[str, Any], dict]:
        """Journal (or queue) the delivery and write its id down: then, and only then, 202."""
        try:
            (self.queue or self.journal).accept(name, verdict.delivery_id, event, verdict.sent_at)
        except JournalFull:
            return 503, {"error": "busy: too many promotions waiting"}, {"Retry-After": "10"}
        except QueueUnavailable as error:  # not acknowledged by the broker: not accepted, MLflow tries again
            self.progress(f"webhook: the queue did not take a delivery for {name}: {error}")
            return 503, {"error": "the queue did not take the delivery"}, {"Retry-After": "10"}
        except OSError as error:  # a disk full, a folder gone: not accepted, so MLflow tries again
            self.not_ready = f"the journal cannot be written: {error.strerror or error}"
            self.progress(f"webhook: {self.not_ready}")
            return 503, {"error": "cannot keep the delivery now"}, {"Retry-After": "30"}
        try:
            self.seen.keep(verdict.delivery_id)
        except OSError as error:  # journaled already: accepted; its replay protection lasts until a restart
            self.progress(f"webhook: the delivery id {verdict.delivery_id} could not be written down "
                          f"({error.strerror or error}); it is remembered until the receiver restarts")
        self.metrics.received.inc()
        return 202, {"accepted": name}, {}

    def health(self) -> tuple[int, dict[str, Any]]:
        status, document = self._health()
        return status, secrets.redact_data(document)  # a reason may quote a server's words, URLs and all

    def _health(self) -> tuple[int, dict[str, Any]]:
        if self.queue is not None:
            trouble = self.queue.reachable()
            document = {"queue": self.queue.address.url}
            return (503, {"status": "not ready", "reason": trouble, **document}) if trouble else (
                200, {"status": "ok", **document})
        document = {"journal": self.journal.depth, "reconciled": self.reconciled.is_set(),
                    "servers": "down" if self.outage.down else "answering"}
        if self.not_ready:
            return 503, {"status": "not ready", "reason": self.not_ready, **document}
        aside = self.set_aside.snapshot()
        if aside:  # 200: the other models go on, so a load balancer keeps the receiver in service
            return 200, {**health_of(aside), **document}
        return 200, {"status": "ok", **document}

    # --- acting ---------------------------------------------------------------------------------

    def _work(self) -> None:
        next_reconcile = 0.0  # at start: after one attempt at the entries an earlier run left
        while not self.stopping.is_set():
            try:
                next_reconcile = self._turn(next_reconcile)
            except Exception as error:  # noqa: BLE001 - the worker outlives a bug: said in one line, tried again
                log.error("webhook: the worker's turn failed: %s", reason_of(error))
                self.outage.failed("an internal error (see the log)")
                self.stopping.wait(self.options.retry_interval)

    def _turn(self, next_reconcile: float) -> float:
        """Act on what waits, then reconcile when due; the time of the next reconciliation."""
        if self.outage.down and not self.outage.may_retry(self.settings):
            self.stopping.wait(self.options.retry_interval)
            return next_reconcile
        waiting = self.journal.waiting()
        if waiting and not self._act_on(waiting):
            return next_reconcile  # a server failed: the entries wait for it
        if time.monotonic() >= next_reconcile and not self.stopping.is_set():
            if not self._reconcile():
                return next_reconcile
            self.reconciled.set()
            return time.monotonic() + self.options.reconcile_interval if self.options.reconcile_interval else math.inf
        if not waiting:
            timeout = next_reconcile - time.monotonic() if self.options.reconcile_interval else 3600
            self.journal.wait_for_entries(max(0.05, min(timeout, 1.0)))
        return next_reconcile

    def _act_on(self, entries: list[Entry]) -> bool:
        """The waiting deliveries: those of models set aside before are tried alone, so that they
        hold up nothing; the rest together. False when a server's failure left work waiting."""
        aside = self.set_aside.snapshot()
        together = [e for e in entries if e.model not in aside]
        alone = sorted({e.model for e in entries} & aside.keys())
        groups = ([together] if together else []) + [[e for e in entries if e.model == m] for m in alone]
        return all(self._pass(sorted({e.model for e in group}), group) for group in groups)

    def _reconcile(self) -> bool:
        """Every watched model, those set aside each alone."""
        aside = sorted(self.set_aside.snapshot())
        if not aside:
            return self._pass(None, [])
        others = sorted(self._watched() - set(aside))
        return (not others or self._pass(others, [])) and all(self._pass([model], []) for model in aside)

    def _watched(self) -> set[str]:
        from mlmeta.triggers import promotions
        from mlmeta.commands.validate import validate_files

        validation = validate_files(promotions.spec_files(self.settings, None), default_service=self.settings.service,
                                    service_required=True, policy=self.settings.card_policy)
        return {loaded.spec.registered_model for loaded in validation.specs()}

    def _pass(self, names: list[str] | None, entries: list[Entry], follower: Follower | None = None) -> bool:
        """One pass over ``names`` (None: every watched model), settling ``entries``. A failure of
        the pass's own splits it: each model alone, and one that fails alone is set aside. True
        when nothing was left waiting for a server."""
        follower = follower or self.follower
        try:
            with self.checkpoint.locked(wait=None):
                report = follower.follow(names, announced={e.model: e.announced for e in entries})
        except Exception as error:  # noqa: BLE001 - whatever one model's data makes fail, the others go on
            if transient(error):
                return self._held_up(error, names)
            models = names if names is not None else sorted(self._watched())
            if len(models) <= 1:
                return self._put_aside(models, entries, error)
            if follower is self.follower and self.checkpoint.read() is None:
                follower = self._follower(_Baselines(self.checkpoint))
            self.progress(f"webhook: a pass over {len(models)} models failed ({reason_of(error)}); "
                          "acting on each alone")
            return all(self._pass([m], [e for e in entries if e.model == m], follower) for m in models)
        return self._settle(names, entries, report)

    def _settle(self, names: list[str] | None, entries: list[Entry], report: PassReport) -> bool:
        self.not_ready = None
        self.outage.recovered()
        self._account(report)
        went = [m for m in (list(self.set_aside.snapshot()) if names is None else names) if m not in report.transient]
        for model in self.set_aside.cleared(went):
            self.progress(f"webhook: {model} went through again; no longer set aside")
        settled = [e for e in entries if e.model not in report.transient]
        self.journal.done(settled)
        self.handled += len(settled)
        if report.transient:
            self.metrics.retried.inc(len(entries) - len(settled) or 1)
            self.outage.failed(f"a server failed while publishing {', '.join(sorted(report.transient))}")
            return False
        if not report.promotions and entries:
            self.progress(f"webhook: {', '.join(names or [])}: nothing new in Production")
        return True

    def _held_up(self, error: Exception, names: list[str] | None) -> bool:
        """The servers' or the configuration's failure: everything waits (and /health says why)."""
        if isinstance(error, ConfigError):  # a wrong token does not fix itself: keep the work, say why, wait
            self.not_ready = str(error)
            self.progress(f"webhook: {error}; the deliveries wait in the journal until this is fixed")
        else:
            self.metrics.retried.inc(len(names or []) or 1)
        self.outage.failed(reason_of(error))
        return False

    def _put_aside(self, models: list[str], entries: list[Entry], error: Exception) -> bool:
        """A model that fails alone: its deliveries recorded as dead letters and marked done."""
        reason, now = reason_of(error), time.time()
        letters = ([Letter(e.model, e.delivery, e.event, reason, now) for e in entries]
                   or [Letter(model, None, None, reason, now) for model in models])
        try:
            news = self.set_aside.add(letters)
        except OSError as failure:  # not recorded: the deliveries stay in the journal, and /health says why
            self.not_ready = f"the dead-letter file cannot be written: {failure.strerror or failure}"
            self.progress(f"webhook: {self.not_ready}")
            self.outage.failed(self.not_ready)
            return False
        self.journal.done(entries)
        self.handled += len(entries)
        self.metrics.dead_lettered.inc(len(entries))
        for model in news:
            self.progress(f"webhook: {model} set aside ({reason}); its deliveries are recorded in "
                          f"{self.set_aside.path}; the other models go on")
        return True

    def _account(self, report: PassReport) -> None:
        for line in report.problems:
            self.progress(f"webhook: {line}")
        self.metrics.count(report)

    def _dispatch(self, promotion: Any) -> None:
        """A ``repository_dispatch``: the repository's workflow publishes (examples/github/)."""
        from mlmeta.http import HttpClient

        options = self.options
        client = HttpClient(options.github_api_url, server="GitHub", setting="--github-api-url",
                            limits=self.settings.limits(),
                            headers={"Authorization": f"Bearer {options.github_token}",
                                     "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
        body = {"event_type": options.github_event_type,
                "client_payload": {"registered_model": promotion.registered_model, "version": promotion.version,
                                   "recognised_by": promotion.recognised_by, "marker": promotion.marker}}
        answer = client.request("POST", f"/repos/{options.github_repository}/dispatches", json_body=body)
        if answer.status != 204:
            raise ServerError(f"GitHub refused the dispatch for {promotion.registered_model}: "
                              f"HTTP {answer.status} {answer.message()}")
        self.progress(f"webhook: dispatched {options.github_event_type} for {promotion.registered_model} "
                      f"v{promotion.version} to {options.github_repository}")
