"""One bad delivery fails alone (the issue's point 3; docs/security.md): a delivery whose model makes
every registry query with its name fail is set aside - a dead-letter record, said once, counted,
``/health`` degraded and why - while a second model's delivery is published within one interval
and reconciliation goes on; a receiver restarted over such an entry reconciles at once.

The poison: MLflow answering 400 to every request that names one model - a persistent failure that
is that model's own, not the server's (a name ending in a backslash did that to every search before
mlmeta quoted names; MLflow's ``INVALID_PARAMETER_VALUE`` is now read one name at a time, so the
refusal here is a plain ``BAD_REQUEST``, which no retry and no other reading gets past). The real
MLflow server sits behind ``RefusingRegistry``, which gives that answer to any request naming the
poisoned model and passes every other request through."""

from __future__ import annotations

import http.server
import json
import stat
import threading
import time
import uuid
from urllib.parse import unquote

import pytest
import requests

from mlmeta.triggers.journal import Journal
from tests.helpers.projects import make_project
from tests.helpers.publishing import entity
from tests.helpers.webhooks import alias_event, wait_for
from tests.security.receiver_process import ReceiverProcess, no_receiver_left  # noqa: F401 - an autouse fixture

REFUSAL = "the registry cannot answer for this registered model"
MLFLOW_400 = {"error_code": "BAD_REQUEST", "message": REFUSAL}  # MLflow's error body, its usual two fields


class RefusingRegistry:
    """An HTTP proxy to the real MLflow server that answers MLflow's 400 to every request naming
    ``poison`` (in its URL or body) - a registry that cannot be asked about that one model."""

    def __init__(self, target: str, poison: str) -> None:
        self.refused = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if poison in unquote(self.path) or poison.encode() in body:
                    proxy.refused += 1
                    return self._answer(400, json.dumps(MLFLOW_400).encode(), "application/json")
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                answer = requests.request(self.command, target + self.path, data=body or None, headers=headers,
                                          timeout=30)
                self._answer(answer.status_code, answer.content, answer.headers.get("Content-Type", "text/plain"))

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def poisoned(in_tmp, registry, sandbox, mlflow_server, monkeypatch):
    """(two watched models, the poisoned model's name), mlmeta pointed at MLflow through the proxy."""
    models = make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "healthy", 2)
    poison = f"poisoned_{uuid.uuid4().hex[:8]}"
    proxy = RefusingRegistry(mlflow_server.url, poison)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
    yield models, poison
    proxy.close()


def published(sandbox, name: str) -> bool:
    return "id" in entity(sandbox, name)


def scrape(receiver: ReceiverProcess) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(receiver.url.rstrip("/") + "/metrics", timeout=10).text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def test_a_poisoned_delivery_is_set_aside_and_holds_up_no_other_model(poisoned, registry, sandbox, tmp_path):
    (good, late), poison = poisoned
    receiver = ReceiverProcess(tmp_path, "--retry-interval", "1", "--reconcile-interval", "5")
    try:
        receiver.reconciled()
        registry.alias(good, "1")
        assert receiver.deliver(alias_event(poison), delivery_id="poisoned-1").status_code == 202
        assert receiver.deliver(alias_event(good), delivery_id="good-1").status_code == 202
        started = time.monotonic()
        wait_for(lambda: published(sandbox, good), 15)
        assert time.monotonic() - started < 5  # within one interval, the poisoned entry notwithstanding
        wait_for(lambda: receiver.health().json()["journal"] == 0, 10)

        health = receiver.health()
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.json()
        assert poison in health.json()["reason"]
        assert REFUSAL in health.json()["set_aside"][poison]
        counted = scrape(receiver)
        assert counted["mlmeta_deliveries_dead_lettered_total"] == 1 and counted["mlmeta_models_set_aside"] == 1

        # reconciliation is not held up: a promotion no delivery announced is published by it
        registry.alias(late, "1")
        wait_for(lambda: published(sandbox, late), 20)
        # a second poisoned delivery: recorded too, and still said once
        assert receiver.deliver(alias_event(poison), delivery_id="poisoned-2").status_code == 202
        wait_for(lambda: scrape(receiver)["mlmeta_deliveries_dead_lettered_total"] == 2, 10)
    finally:
        assert receiver.stop() == 0
    letters_file = tmp_path / "state" / "webhook-dead-letters.jsonl"
    letters = [json.loads(line) for line in letters_file.read_text().splitlines()]
    assert [(x["model"], x["delivery"], x["event"]) for x in letters] == [
        (poison, "poisoned-1", "model_version_alias.created"), (poison, "poisoned-2", "model_version_alias.created")]
    assert all(REFUSAL in x["reason"] and x["time"].endswith("Z") for x in letters)
    assert stat.S_IMODE(letters_file.stat().st_mode) == 0o600
    said = [line for line in receiver.stderr().splitlines() if f"{poison} set aside" in line]
    assert len(said) == 1, receiver.stderr()
    assert "Traceback" not in receiver.stderr()


def test_a_receiver_restarted_over_a_poisoned_entry_splits_the_pass_and_reconciles_at_once(poisoned, registry, sandbox,
                                                                                         tmp_path):
    (good, late), poison = poisoned
    journal = Journal(tmp_path / "state" / "webhook-journal.jsonl")  # what an earlier run left: one pass for both
    journal.open()
    journal.accept(poison, "left-1", "model_version_alias.created", time.time())
    journal.accept(good, "left-2", "model_version_alias.created", time.time())
    journal.close()
    registry.alias(good, "1")
    registry.alias(late, "1")  # announced by no delivery: the reconciliation pass finds it
    receiver = ReceiverProcess(tmp_path, "--retry-interval", "1")
    try:
        receiver.reconciled(20)  # it used to wait for an empty journal, forever
        assert published(sandbox, good) and published(sandbox, late)
        health = receiver.health().json()
        assert health["status"] == "degraded" and health["journal"] == 0 and poison in health["reason"]
    finally:
        assert receiver.stop() == 0
    assert "a pass over 2 models failed" in receiver.stderr() and "acting on each alone" in receiver.stderr()


def test_a_queue_worker_dead_letters_the_failing_model_and_commits_the_others(poisoned, registry, sandbox,
                                                                              kafka_broker, tmp_path):
    """``webhook work``: the batch holding both deliveries is acted on again one model at a time;
    the poisoned one's record goes to ``<topic>.<group>.dead-letters`` with the batch's commit."""
    from confluent_kafka import Consumer

    from mlmeta.config import load_settings
    from mlmeta.triggers.queue import DeliveryQueue, connect, parse_queue
    from mlmeta.triggers.queue_worker import QueueWorker, WorkerOptions

    (good, _), poison = poisoned
    suffix = uuid.uuid4().hex[:6]
    address = parse_queue(f"kafka://{kafka_broker.bootstrap}/deliveries-{suffix}")
    connect(address, 10)  # the topic, as webhook serve --queue makes it
    registry.alias(good, "1")
    queue = DeliveryQueue(address, timeout=10)
    for model, delivery in ((poison, "poisoned-1"), (good, "good-1")):  # waiting before the worker starts: one batch
        queue.accept(model, delivery, "model_version_alias.created", time.time())
    lines: list[str] = []
    options = WorkerOptions(queue=address, group=f"workers-{suffix}", retry_interval=1, max_backoff=1,
                            sinks=[f"jsonl:{tmp_path / 'events.jsonl'}"])
    worker = QueueWorker(load_settings(), options, lines.append).start()
    running = threading.Thread(target=worker.run, daemon=True)
    running.start()
    try:
        wait_for(lambda: published(sandbox, good), 90)
        wait_for(lambda: worker.health()[1]["status"] == "degraded", 30)
        status, health = worker.health()
        assert status == 200 and poison in health["reason"] and REFUSAL in health["set_aside"][poison]
        assert worker.metrics.dead_lettered._value.get() == 1
    finally:
        worker.stop()
        running.join(60)
        worker.close()
        queue.close()
    reader = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": f"reader-{suffix}",
                       "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    reader.subscribe([options.dead_letter_topic])
    records, until = [], time.monotonic() + 30
    while not records and time.monotonic() < until:
        message = reader.poll(0.5)
        if message is not None and message.error() is None:
            records.append(json.loads(message.value()))
    reader.close()
    assert [(r["model"], r["delivery"], r["group"]) for r in records] == [(poison, "poisoned-1", options.group)]
    assert REFUSAL in records[0]["reason"]
    assert sum(f"{poison} set aside" in line for line in lines) == 1, lines


def test_what_health_says_passes_the_redaction(in_tmp, monkeypatch, tmp_path):
    from mlmeta import secrets
    from mlmeta.config import load_settings
    from mlmeta.events.sinks import Emitter
    from mlmeta.triggers.deadletter import Letter
    from mlmeta.triggers.webhook import Receiver, WebhookOptions
    from tests.helpers.webhooks import SECRET

    token = f"tok-{uuid.uuid4().hex}"
    secrets.register(token)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    receiver = Receiver(load_settings(), WebhookOptions(secret=SECRET, port=0, state_dir=tmp_path / "state"),
                        Emitter([], None))
    try:
        receiver.set_aside.add([Letter("some_model", "d-1", "model_version_alias.created",
                                       f"MLflow at https://bot:{token}@mlflow.example.com said no", time.time())])
        assert token not in json.dumps(receiver.health()[1])
        receiver.not_ready = f"MLflow at https://bot:{token}@mlflow.example.com refused the token"
        status, document = receiver.health()
        assert status == 503 and token not in json.dumps(document) and "refused the token" in document["reason"]
    finally:
        receiver.listener.stop()


def test_the_dead_letter_file_is_bounded_keeping_the_newest_records(tmp_path, monkeypatch):
    from mlmeta.triggers import deadletter

    monkeypatch.setattr(deadletter, "MAX_BYTES", 4096)
    kept = deadletter.SetAside(tmp_path / "state" / "webhook-dead-letters.jsonl")
    for number in range(100):
        kept.add([deadletter.Letter("m", f"d-{number}", "e", "a reason", time.time())])
    records = [json.loads(line) for line in kept.path.read_text().splitlines()]
    assert kept.path.stat().st_size <= 4096 and records[-1]["delivery"] == "d-99"
    assert [r["delivery"] for r in records] == [f"d-{n}" for n in range(100 - len(records), 100)]
