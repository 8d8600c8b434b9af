"""The Kafka broker stopped for a minute while promotions happen, then restarted with its data
(Apache Kafka's own broker, KRaft): ``watch``'s events wait in the spool and every one arrives
once per CloudEvents id, in order per model; meanwhile a ``webhook serve --queue`` receiver
answers 503 with Retry-After - so MLflow retries - and 202 again once the broker is back."""

from __future__ import annotations

import json
import threading
import time
import uuid

from mlmeta.config import load_settings
from mlmeta.demo.services import KafkaBroker
from mlmeta.events.sinks import Emitter, parse_sink
from mlmeta.triggers.queue import DeliveryQueue, connect, parse_queue
from mlmeta.triggers.watch import Watcher, WatchOptions
from mlmeta.triggers.webhook import Receiver, WebhookOptions
from tests.helpers.receivers import read_events
from tests.helpers.soak import outage
from tests.helpers.webhooks import SECRET, alias_event, deliver, wait_for

DOWN = outage(60.0, 15.0)  # seconds the broker is stopped: the minute under make test-soak


def spooled(path) -> list[dict]:
    return [json.loads(line)["event"] for line in path.read_text().splitlines()] if path.exists() else []


def test_a_broker_stopped_for_a_minute_loses_no_event_and_keeps_each_models_order(project_factory, registry,
                                                                                   tmp_path, monkeypatch):
    models = project_factory("restarted", 2)
    for name in models:
        registry.register(name, run=1)
    monkeypatch.setenv("MLMETA_TIMEOUT", "2")
    broker = KafkaBroker(tmp_path / "kafka").start()
    topic = f"events-{uuid.uuid4().hex[:6]}"
    settings = load_settings()
    spool = tmp_path / "state" / "spool.jsonl"
    emitter = Emitter([parse_sink(f"kafka://{broker.bootstrap}/{topic}", settings.limits())], spool)
    watcher = Watcher(settings, WatchOptions(checkpoint=tmp_path / "state" / "checkpoint.json", interval=2), emitter)
    address = parse_queue(f"kafka://{broker.bootstrap}/deliveries")
    connect(address, timeout=10)  # as webhook serve --queue does at start: the topic is created
    queue = DeliveryQueue(address, timeout=2)
    receiver = Receiver(settings, WebhookOptions(secret=SECRET, port=0), Emitter([], None), queue=queue).start()
    watching = threading.Thread(target=watcher.run, daemon=True)
    try:
        assert deliver(receiver, alias_event(models[0])).status_code == 202  # the broker acknowledged it
        watching.start()
        wait_for(lambda: (tmp_path / "state" / "checkpoint.json").exists(), 60)  # the baseline pass is done
        registry.alias(models[0], "1")  # delivered before the stop: the restarted broker still has it
        wait_for(lambda: emitter.delivered == 1, 40)
        broker.stop()
        stopped = time.monotonic()
        registry.alias(models[1], "1")  # promotions while the broker is down: published, their events spooled
        wait_for(lambda: len(spooled(spool)) == 1, 40)
        for name in models:
            registry.alias(name, "2")
        wait_for(lambda: [e["subject"].split("/")[1] for e in spooled(spool)] == ["1", "2", "2"], 40)
        refused = deliver(receiver, alias_event(models[1]))
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"  # not acknowledged: MLflow retries
        time.sleep(max(0.0, DOWN - (time.monotonic() - stopped)))
        broker.restart()
        wait_for(lambda: not spool.exists(), 60)  # the watcher's next pass sent the spool, in order
        assert deliver(receiver, alias_event(models[1])).status_code == 202
        events = read_events(broker.bootstrap, topic, 2 * len(models))
    finally:
        watcher.stop()
        watching.join(timeout=60)
        receiver.stop()
        emitter.close()
        broker.stop()
    first_seen = list(dict.fromkeys(e["id"] for e in events))  # a consumer drops duplicates by id
    assert len(first_seen) == 2 * len(models)
    by_id = {e["id"]: e for e in events}
    for name in models:
        assert [by_id[i]["data"]["version"] for i in first_seen if by_id[i]["data"]["name"] == name] == ["1", "2"]
