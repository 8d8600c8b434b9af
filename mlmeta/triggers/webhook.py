"""``mlmeta webhook serve``: MLflow (>= 3.3) webhooks in, publishes (or dispatches) and events out.

A delivery is answered within milliseconds and handled in the background:

1. Checked, before anything is parsed: a body of at most ``MAX_BODY`` bytes (413), the three
   ``X-MLflow-*`` headers (400), a timestamp no older (or newer) than ``max_age`` (401 stale),
   ``X-MLflow-Signature`` = ``v1,`` + base64(HMAC-SHA256(secret, ``{delivery id}.{timestamp}.{raw
   body}``)), compared in constant time (401), and a delivery id not seen within ``max_age``
   (409 replayed). Only then is the JSON read - payloads are minimal and untrusted: only the
   registered model's name is taken from it.
2. Events mlmeta listens to: ``model_version_alias.created`` always; ``model_version.created``
   and ``model_version_tag.set`` when asked (``--event``). Others are acknowledged and ignored.
3. The name goes into a bounded queue (202); a full queue answers 503 with ``Retry-After`` - MLflow
   retries 5xx and 429, so nothing is dropped silently.
4. A worker takes names off the queue (coalescing repeats), re-reads the registry, and for each
   spec of that model whose Production version changed since it last acted publishes through the
   same pipeline as ``mlmeta publish`` - or, with ``--forward github-dispatch``, sends a
   ``repository_dispatch`` so the repository's own workflow publishes - and emits one event per
   promotion. Duplicates (MLflow retrying, an alias set twice) are harmless: a publish with
   nothing new writes nothing, and an event's id is stable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlmeta.config import Settings
from mlmeta.errors import MlmetaError
from mlmeta.events.sinks import Emitter
from mlmeta.triggers import promotions

log = logging.getLogger("mlmeta.webhook")
MAX_BODY = 64 * 1024
ALWAYS = ("model_version_alias.created",)
OPTIONAL = ("model_version.created", "model_version_tag.set")


@dataclass
class WebhookOptions:
    secret: str
    host: str = "127.0.0.1"
    port: int = 8686
    path: str = "/"
    events: tuple[str, ...] = ALWAYS
    max_age: float = 300.0  # seconds a delivery's timestamp may be off
    queue_size: int = 100
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


class Receiver:
    """The HTTP side: check, parse, enqueue; and the worker that acts on the queue."""

    def __init__(self, settings: Settings, options: WebhookOptions, emitter: Emitter,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self.settings = settings
        self.options = options
        self.emitter = emitter
        self.progress = progress
        self.deliveries = Deliveries(options.secret, options.max_age)
        self.queue: queue.Queue[str] = queue.Queue(maxsize=options.queue_size)
        self.acted: dict[str, tuple[str, str, str]] = {}  # watch key -> the promotion last acted on
        self.handled = 0  # names taken off the queue and dealt with (tests and progress read it)
        self.stopping = threading.Event()
        self.server = http.server.ThreadingHTTPServer((options.host, options.port), self._handler())
        self.server.daemon_threads = True
        self._worker = threading.Thread(target=self._work, name="mlmeta-webhook-worker", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{self.options.path}"

    def start(self) -> Receiver:
        self._worker.start()
        threading.Thread(target=self.server.serve_forever, name="mlmeta-webhook-http", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._worker.join(timeout=60)

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
            self.queue.put_nowait(name)
        except queue.Full:
            return 503, {"error": "busy: too many promotions waiting"}, {"Retry-After": "10"}
        return 202, {"accepted": name}, {}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._answer(413, {"error": f"body larger than {MAX_BODY} bytes"}, {"Connection": "close"})
                    return
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                self._answer(*receiver.receive(self.path, headers, body))

            def do_GET(self) -> None:  # noqa: N802 - a health check for service managers
                if self.path.split("?")[0] == "/health":
                    self._answer(200, {"status": "ok", "queued": receiver.queue.qsize()}, {})
                else:
                    self._answer(404, {"error": "not found"}, {})

            def _answer(self, status: int, document: dict, headers: dict) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    # --- acting ---------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                first = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            names = {first}
            while True:  # coalesce: one pass for everything already waiting
                try:
                    names.add(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.act(sorted(names))
            except MlmetaError as error:  # a server down: say so; MLflow's next delivery tries again
                self.progress(f"webhook: could not act on {', '.join(sorted(names))}: {error}")
            except Exception:  # noqa: BLE001 - the worker must survive a bug in one delivery
                log.exception("acting on %s failed", names)
            finally:
                self.handled += len(names)

    def act(self, names: list[str]) -> None:
        from mlmeta.adapters.mlflow import MlflowRegistry
        from mlmeta.validate import validate_files

        registry = MlflowRegistry.from_settings(self.settings)
        specs = [s for s in validate_files(promotions.spec_files(self.settings, None),
                                           default_service=self.settings.service, service_required=True).specs()
                 if s.spec.registered_model in names]
        registry.prefetch(names)
        keys = promotions.watched(specs, self.settings, names)
        now = promotions.current(registry, keys, {m["name"]: m for m in registry.known_models()})
        todo = [(keys[key], p) for key, p in now.items()
                if self.acted.get(key) != (p.version, p.recognised_by, p.marker)]
        if not todo:
            self.progress(f"webhook: {', '.join(names)}: nothing new in Production")
            return
        if self.options.forward == "github-dispatch":
            for item, promotion in todo:
                self._dispatch(promotion)
                self.acted[item.key] = (promotion.version, promotion.recognised_by, promotion.marker)
            return
        events = promotions.act(todo, self.settings, registry=registry, trigger="webhook",
                                create_service=self.options.create_service)
        for problem in self.emitter.emit(events):
            self.progress(f"webhook: {problem}")
        for (item, promotion), event in zip(todo, events):
            if not promotions.failed(event):
                self.acted[item.key] = (promotion.version, promotion.recognised_by, promotion.marker)
            self.progress("webhook: " + ", ".join(f"{o.fqn or o.spec or event.registered_model} {o.action}"
                                                  for o in event.outcomes))

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
            self.progress(f"webhook: GitHub refused the dispatch for {promotion.registered_model}: "
                          f"HTTP {answer.status} {answer.message()}")
        else:
            self.progress(f"webhook: dispatched {options.github_event_type} for {promotion.registered_model} "
                          f"v{promotion.version} to {options.github_repository}")
