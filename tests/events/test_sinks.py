"""Promotion events: the CloudEvents envelope, and every sink - JSON Lines, HTTP, and a real Kafka
broker (Apache Kafka's own, KRaft) - including what happens when a sink is down: nothing is lost."""

from __future__ import annotations

import http.server
import json
import threading
import uuid

import pytest

from mlmeta.demo.services import free_port
from mlmeta.events import PromotionEvent
from mlmeta.events.sinks import Emitter, JsonLinesSink, parse_sink
from mlmeta.http import Limits
from tests.conftest import write
from tests.test_publish import SPEC

VERSION = {"name": "churn", "version": "3", "creation_timestamp": 1700000000000,
           "last_updated_timestamp": 1700000100000, "user_id": "ana", "current_stage": "None",
           "description": "", "source": "models:/m-abc", "run_id": "r1", "status": "READY", "status_message": "",
           "tags": [{"key": "team", "value": "eta"}], "run_link": "", "aliases": ["champion"]}


def event(name: str = "churn", version: str = "3", generation: str = "1") -> PromotionEvent:
    return PromotionEvent(name, version, "alias", "champion", {**VERSION, "name": name, "version": version},
                          generation, source="http://mlflow:5000")


def test_the_envelope_is_cloudevents_with_a_stable_id():
    first, again = event().envelope(), event().envelope()
    assert first["id"] == again["id"] and first["id"] != event(version="4").envelope()["id"]
    # the same version promoted again (after a rollback) is another generation: another id
    assert first["id"] != event(generation="3").envelope()["id"]
    assert {k: first[k] for k in ("specversion", "type", "subject", "source", "datacontenttype")} == {
        "specversion": "1.0", "type": "io.mlmeta.model.promoted", "subject": "churn/3",
        "source": "http://mlflow:5000", "datacontenttype": "application/json"}
    assert first["data"]["tags"] == [{"key": "team", "value": "eta"}] and first["data"]["runId"] == "r1"


def test_sinks_are_named_by_one_string():
    limits = Limits()
    assert parse_sink("-", limits).name == "jsonl:-" and parse_sink("out/events.jsonl", limits).name.endswith(".jsonl")
    # an endpoint's path or query may hold its secret: shown as the host and a digest of the whole URL
    assert parse_sink("https://events.example.com/in", limits).name == "https://events.example.com/...#e9f7afa3"
    assert parse_sink("kafka://broker:9092/promotions", limits).name == "kafka://broker:9092/promotions"
    with pytest.raises(Exception, match="not a sink mlmeta knows"):
        parse_sink("smtp://mail", limits)


def test_an_http_sink_that_fails_keeps_the_event_in_the_spool_and_sends_it_first_later(tmp_path):
    received, status = [], [500]

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append((self.headers["Content-Type"], json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = parse_sink(f"http://127.0.0.1:{server.server_address[1]}/events", Limits(timeout=2, deadline=2,
                                                                                      attempts=2))
        emitter = Emitter([sink], tmp_path / "spool.jsonl")
        problems = emitter.emit([event(version="3")])
        assert emitter.spooled == 1 and "kept in" in problems[-1]
        status[0] = 202
        received.clear()
        assert emitter.emit([event(version="4")]) == []
        assert [body["subject"] for _, body in received] == ["churn/3", "churn/4"]  # the spool first, in order
        assert received[0][0] == "application/cloudevents+json" and not (tmp_path / "spool.jsonl").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_a_json_lines_file_sink(tmp_path):
    Emitter([JsonLinesSink(str(tmp_path / "e.jsonl"))], None).emit([event(), event(version="4")])
    assert [json.loads(line)["subject"] for line in (tmp_path / "e.jsonl").read_text().splitlines()] == [
        "churn/3", "churn/4"]


def consume(broker, topic: str, count: int) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"test-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    messages = []
    try:
        for _ in range(120):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
            if len(messages) >= count:
                break
    finally:
        consumer.close()
    return messages


@pytest.fixture
def promoted(sandbox, mlflow_server, registry, in_tmp):
    """(registered model in Production with a spec, a fresh topic name, the environment mlmeta reads)."""
    name = f"kafka_{uuid.uuid4().hex[:8]}"
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    registry.alias(name, registry.register(name))
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
           "MLFLOW_TRACKING_URI": mlflow_server.url, "MLMETA_TIMEOUT": "2"}
    return name, f"promotions-{uuid.uuid4().hex[:6]}", env


@pytest.mark.slow
def test_publish_emits_events_to_a_real_kafka_topic_with_every_field(kafka_broker, cli, promoted):
    name, topic, env = promoted
    result = cli("publish", "--all", "--emit-events", "--sink", f"kafka://{kafka_broker.bootstrap}/{topic}", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    [message] = consume(kafka_broker, topic, 1)
    assert message.key() == name.encode()
    envelope = json.loads(message.value())
    assert envelope["type"] == "io.mlmeta.model.promoted" and envelope["subject"] == f"{name}/1"
    data = envelope["data"]
    assert {"name", "version", "creationTimestamp", "lastUpdatedTimestamp", "userId", "currentStage", "description",
            "source", "runId", "status", "statusMessage", "tags", "runLink"} <= set(data)
    assert data["catalog"] == [{"action": "created", "entityVersion": 0.1, "fqn": f"mlflow_models.{name}",
                                "message": None, "spec": f"model_specs/{name}.yaml"}]
    assert data["trigger"] == "publish" and data["promotion"] == {
        "recognisedBy": "alias", "marker": "champion", "generation": f"mlflow_models.{name}@0.1"}


@pytest.mark.slow
def test_a_broker_that_is_down_fails_the_publish_and_loses_nothing(kafka_broker, cli, promoted, in_tmp):
    name, topic, env = promoted
    down = f"kafka://127.0.0.1:{free_port()}/{topic}"
    result = cli("publish", "--all", "--emit-events", "--sink", down, env=env)
    assert result.exit_code == 1  # published, but an event could not be delivered: the run says so
    assert "not delivered within 2 s" in result.stderr and "kept in .mlmeta/events-spool.jsonl" in result.stderr
    spooled = [json.loads(line) for line in (in_tmp / ".mlmeta" / "events-spool.jsonl").read_text().splitlines()]
    assert (in_tmp / ".mlmeta" / ".gitignore").read_text().splitlines()[-1] == "*"  # state stays out of git
    assert [s["event"]["subject"] for s in spooled] == [f"{name}/1"]
    # the same sink name, now answering: the spooled event goes first (a sink is named by its string)
    spool = in_tmp / ".mlmeta" / "events-spool.jsonl"
    up = f"kafka://{kafka_broker.bootstrap}/{topic}"
    spool.write_text(spool.read_text().replace(down, up))
    result = cli("publish", "--all", "--emit-events", "--sink", up, env=env)
    assert result.exit_code == 0 and not spool.exists()
    [message] = consume(kafka_broker, topic, 1)
    assert json.loads(message.value())["subject"] == f"{name}/1"
