"""Promotion events into a real Kafka broker (Apache Kafka's own, KRaft), including a broker that is down:
nothing is lost (the envelope and the other sinks: tests/unit/events/test_sinks.py)."""

from __future__ import annotations

import json
import uuid

import pytest

from mlmeta.demo.services import free_port
from tests.helpers.files import write
from tests.helpers.publishing import SPEC


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
