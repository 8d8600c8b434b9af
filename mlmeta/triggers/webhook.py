"""``mlmeta webhook serve``: MLflow (>= 3.3) webhooks in, publishes (or dispatches) and events out -
and no promotion lost: persist, then acknowledge, then act with retries, and reconcile as the
backstop (the delivery guarantees of GitHub's and Stripe's webhook consumers).

1. Checked, before anything is parsed: a body of at most ``MAX_BODY`` bytes (413), the three
   ``X-MLflow-*`` headers (400), a timestamp no older (or newer) than ``max_age`` (401 stale),
   ``X-MLflow-Signature`` = ``v1,`` + base64(HMAC-SHA256(secret, ``{delivery id}.{timestamp}.{raw
   body}``)), compared in constant time (401), and a delivery id not seen within ``max_age``
   (409 replayed). Only then is the JSON read - payloads are minimal and untrusted: only the
   registered model's name is taken from it.
2. Events mlmeta listens to: ``model_version_alias.created`` always; ``model_version.created``
   and ``model_version_tag.set`` when asked (``--event``). Others are acknowledged and ignored.
3. The delivery is appended to the journal and fsync'd (``journal``), and only then answered
   202; a full journal (``queue_size`` deliveries waiting) or one that cannot be written answers
   503 with ``Retry-After`` - MLflow retries 5xx and 429, so nothing is dropped silently. With
   ``--queue kafka://...`` the delivery goes to a Kafka topic instead, answered 202 once the
   broker acknowledged it (``queue``); the workers of a consumer group act on it
   (``queue_worker``), and this process keeps no journal and no worker of its own.
4. A worker takes every waiting entry at once (a burst for one model is one pass), re-reads the
   registry and acts through ``follow.Follower`` - the code path and checkpoint format ``watch``
   uses: for each spec of those models whose Production version changed since it was last acted
   on, it publishes through the same pipeline as ``mlmeta publish`` (or, with ``--forward
   github-dispatch``, sends a ``repository_dispatch`` so the repository's own workflow
   publishes) and emits one event per promotion. Entries are marked done once acted on; a server
   that is down keeps them, probed every ``retry_interval`` and acted on as soon as it answers; a
   spec that is plainly invalid fails once and stays failed until it changes.
5. Reconciliation: one pass over every watched model when the receiver starts (after the entries
   an earlier run left), and another every ``reconcile_interval`` - so a promotion MLflow never
   delivered (its 60 s webhook cache, a network split) is still published within that interval.

``/health`` answers 200 while the journal can be read and written and nothing stops the work
(503 with the reason otherwise); ``/metrics`` answers in the Prometheus text format. Two
receivers cannot share a state directory: the second exits naming the first. SIGTERM stops accepting, finishes the publish under
way, and leaves the rest in the journal for the next start.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import http.server
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import state
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError, UsageError
from mlmeta.events.sinks import Emitter
from mlmeta.triggers.follow import Checkpoint, Follower, PassReport
from mlmeta.triggers.journal import Entry, Journal, JournalFull
from mlmeta.triggers.metrics import CONTENT_TYPE, Metrics
from mlmeta.triggers.outage import Outage
from mlmeta.triggers.queue import DeliveryQueue, QueueUnavailable

log = logging.getLogger("mlmeta.webhook")
MAX_BODY = 64 * 1024
ALWAYS = ("model_version_alias.created",)
OPTIONAL = ("model_version.created", "model_version_tag.set")


@dataclass
class WebhookOptions:
    secret: str
    host: str = "127.0.0.1"  # the address to bind
    port: int = 8686
    path: str = "/"
    events: tuple[str, ...] = ALWAYS
    max_age: float = 300.0  # seconds a delivery's timestamp may be off
    queue_size: int = 10_000  # deliveries waiting in the journal at most; then 503
    state_dir: Path = Path(state.FOLDER)  # the journal, the checkpoint, the lock
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


class Deliveries:
    """The checks of step 1, and the delivery ids seen recently (replays)."""

    def __init__(self, secret: str, max_age: float, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.max_age = max_age
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """(status, reason): 0 when the delivery is authentic, fresh and new."""
        delivery_id = headers.get("x-mlflow-delivery-id", "")
        timestamp = headers.get("x-mlflow-timestamp", "")
        given = headers.get("x-mlflow-signature", "")
        if not (delivery_id and timestamp and given):
            return 400, "missing X-MLflow-Delivery-Id, X-MLflow-Timestamp or X-MLflow-Signature"
        try:
            sent_at = float(timestamp)
        except ValueError:
            return 400, "X-MLflow-Timestamp is not a number"
        now = self._clock()
        if abs(now - sent_at) > self.max_age:
            return 401, "stale delivery: its timestamp is too far from now"
        if not hmac.compare_digest(given.encode(), signature(self._secret, delivery_id, timestamp, body).encode()):
            return 401, "bad signature"
        with self._lock:
            for old, at in list(self._seen.items()):
                if now - at > self.max_age:
                    del self._seen[old]
            if delivery_id in self._seen:
                return 409, "replayed delivery id"
            self._seen[delivery_id] = now
        return 0, ""


def handler(health: Callable[[], tuple[int, dict[str, Any]]], metrics: Callable[[], bytes],
            receive: Callable[[str, dict[str, str], bytes], tuple[int, dict[str, Any], dict]] | None = None,
            ) -> type[http.server.BaseHTTPRequestHandler]:
    """``GET /health`` and ``/metrics``, for service managers and Prometheus; POSTs go to
    ``receive`` (deliveries), or are not found when there is none (a queue worker)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            if receive is None:
                self._answer(404, {"error": "not found"}, {})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, {"error": f"body larger than {MAX_BODY} bytes"}, {"Connection": "close"})
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._answer(*receive(self.path, headers, body))

        def do_GET(self) -> None:  # noqa: N802 - for service managers and Prometheus
            where = self.path.split("?")[0]
            if where == "/health":
                self._answer(*health(), {})
            elif where == "/metrics":
                self._send(200, metrics(), CONTENT_TYPE, {})
            else:
                self._answer(404, {"error": "not found"}, {})

        def _answer(self, status: int, document: dict, headers: dict) -> None:
            self._send(status, json.dumps(document).encode(), "application/json", headers)

        def _send(self, status: int, data: bytes, content_type: str, headers: dict) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


class _Listener(http.server.ThreadingHTTPServer):
    # socketserver's accept backlog is 5: a burst of deliveries (MLflow retries, a registry's
    # batch of promotions) on a busy machine overflows it and clients see their connection reset
    # before the receiver could answer 503 with Retry-After
    request_queue_size = 128


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
        self.journal = Journal(folder / "webhook-journal.jsonl", limit=options.queue_size)
        self.checkpoint = Checkpoint(folder / "webhook-checkpoint.json")
        self.stopping = threading.Event()
        self.follower = Follower(settings, self.checkpoint, emitter, trigger="webhook",
                                 create_service=options.create_service, progress=progress, stopping=self.stopping,
                                 forward=self._dispatch if options.forward == "github-dispatch" else None)
        self.outage = Outage(progress, "webhook", options.retry_interval, options.max_backoff)
        self.metrics = Metrics(lambda: self.journal.depth, lambda: len({e.model for e in self.journal.waiting()}),
                               emitter)
        self.handled = 0  # journal entries acted on (tests and progress read it)
        self.reconciled = threading.Event()  # the first reconciliation pass is done
        self.not_ready: str | None = None  # why /health says 503
        self._lock_handle: Any = None
        self.server = _Listener((options.host, options.port), handler(self.health, self.metrics.text, self.receive))
        self.server.daemon_threads = True
        self._worker = threading.Thread(target=self._work, name="mlmeta-webhook-worker", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.options.path}"

    def start(self) -> Receiver:
        if self.queue is None:
            self._start_journal()
        threading.Thread(target=self.server.serve_forever, name="mlmeta-webhook-http", daemon=True).start()
        return self

    def _start_journal(self) -> None:
        self._take_state_dir()
        recovery = self.journal.open()
        if recovery.damaged is not None:
            self.progress(f"webhook: the journal ended in {recovery.damaged_bytes} damaged bytes (a crash mid-write?): "
                          f"read up to its last complete entry; the rest is kept in {recovery.damaged}")
        if recovery.open_entries:
            self.progress(f"webhook: {recovery.open_entries} delivery(ies) accepted by an earlier run are acted on first")
        self._worker.start()

    def _take_state_dir(self) -> None:
        """One receiver per state directory: a second one would act on the same journal."""
        lock = self.options.state_dir / "webhook.lock"
        handle = state.open_private(lock)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().decode(errors="replace").strip() or "?"
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
        self.server.shutdown()
        self.server.server_close()
        if self.queue is not None:
            self.queue.close()
            return
        self.journal.wake()
        if self._worker.is_alive():
            self._worker.join(timeout=120)
        self.journal.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    # --- receiving ------------------------------------------------------------------------------

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict]:
        """(status, JSON answer, extra headers) for one POST."""
        if path.split("?")[0] != self.options.path:
            return 404, {"error": "not found"}, {}
        status, reason = self.deliveries.check(headers, body)
        if status:
            self.progress(f"webhook: refused a delivery ({status}: {reason})")
            return status, {"error": reason}, {}
        try:
            payload = json.loads(body)
            event = f"{payload['entity']}.{payload['action']}"
            name = payload["data"]["name"]
            if not isinstance(name, str) or not name:
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "not an MLflow webhook payload"}, {}
        if event not in self.options.events:
            return 200, {"ignored": event}, {}
        try:
            (self.queue or self.journal).accept(name, headers["x-mlflow-delivery-id"], event,
                                                float(headers["x-mlflow-timestamp"]))
        except JournalFull:
            return 503, {"error": "busy: too many promotions waiting"}, {"Retry-After": "10"}
        except QueueUnavailable as error:  # not acknowledged by the broker: not accepted, MLflow tries again
            self.progress(f"webhook: the queue did not take a delivery for {name}: {error}")
            return 503, {"error": "the queue did not take the delivery"}, {"Retry-After": "10"}
        except OSError as error:  # a disk full, a folder gone: not accepted, so MLflow tries again
            self.not_ready = f"the journal cannot be written: {error.strerror or error}"
            self.progress(f"webhook: {self.not_ready}")
            return 503, {"error": "cannot keep the delivery now"}, {"Retry-After": "30"}
        self.metrics.received.inc()
        return 202, {"accepted": name}, {}

    def health(self) -> tuple[int, dict[str, Any]]:
        if self.queue is not None:
            trouble = self.queue.reachable()
            document = {"queue": self.queue.address.url}
            return (503, {"status": "not ready", "reason": trouble, **document}) if trouble else (
                200, {"status": "ok", **document})
        document = {"journal": self.journal.depth, "reconciled": self.reconciled.is_set(),
                    "servers": "down" if self.outage.down else "answering"}
        if self.not_ready:
            return 503, {"status": "not ready", "reason": self.not_ready, **document}
        return 200, {"status": "ok", **document}


    # --- acting ---------------------------------------------------------------------------------

    def _work(self) -> None:
        next_reconcile = 0.0  # at start: after the entries an earlier run left, one reconciliation pass
        while not self.stopping.is_set():
            if self.outage.down and not self.outage.may_retry(self.settings):
                self.stopping.wait(self.options.retry_interval)
                continue
            waiting = self.journal.waiting()
            reconcile = time.monotonic() >= next_reconcile and (not waiting or self.reconciled.is_set())
            if not waiting and not reconcile:
                timeout = next_reconcile - time.monotonic() if self.options.reconcile_interval else 3600
                self.journal.wait_for_entries(max(0.05, min(timeout, 1.0)))
                continue
            if self._act(None if reconcile else waiting):
                if reconcile:
                    self.reconciled.set()
                    next_reconcile = (time.monotonic() + self.options.reconcile_interval
                                      if self.options.reconcile_interval else float("inf"))

    def _act(self, entries: list[Entry] | None) -> bool:
        """One pass, over these entries' models or (None) every watched model; True when it ran
        to its end (what a server's failure left is tried again)."""
        names = None if entries is None else sorted({e.model for e in entries})
        announced = {e.model: e.announced for e in entries or []}
        try:
            with self.checkpoint.locked(wait=None):
                report = self.follower.follow(names, announced=announced)
        except ServerError as error:
            self.outage.failed(str(error))
            self.metrics.retried.inc(len(names or []) or 1)
            return False
        except ConfigError as error:  # a wrong token does not fix itself: keep the work, say why, wait
            self.not_ready = str(error)
            self.progress(f"webhook: {error}; the deliveries wait in the journal until this is fixed")
            self.outage.failed(str(error))
            return False
        except Exception:  # noqa: BLE001 - the worker must survive a bug in one pass
            log.exception("acting on %s failed", names or "every watched model")
            self.outage.failed("an internal error (see the log)")
            return False
        self.not_ready = None
        self.outage.recovered()
        self._account(report)
        if entries is not None:
            settled = [e for e in entries if e.model not in report.transient]
            self.journal.done(settled)
            self.handled += len(settled)
            if len(settled) < len(entries):
                self.metrics.retried.inc(len(entries) - len(settled))
                self.outage.failed(f"a server failed while publishing {', '.join(sorted(report.transient))}")
                return False
        elif report.transient:
            self.outage.failed(f"a server failed while publishing {', '.join(sorted(report.transient))}")
            return False
        if not report.promotions and names:
            self.progress(f"webhook: {', '.join(names)}: nothing new in Production")
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
