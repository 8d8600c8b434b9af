"""Promote v2, roll back to v1, promote v2 again: three promotions, three event ids - in the JSON
Lines, HTTP and Kafka sinks of ``watch``, through the Kafka queue (``webhook work``), and from
``publish --emit-events`` - while a retry of one keeps its id. A consumer that drops duplicates by
id, as docs/following.md advises, sees every promotion exactly once."""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid

from mlmeta.config import load_settings
from mlmeta.events.sinks import Emitter, parse_sink
from mlmeta.triggers.queue import DeliveryQueue, parse_queue
from mlmeta.triggers.watch import Watcher, WatchOptions
from tests.helpers.receivers import Mlmeta, read_events
from tests.helpers.webhooks import wait_for

VERSIONS = ("2", "1", "2")  # promote v2, roll back to v1, promote v2 again


class Endpoint:
    """An HTTP event sink on 127.0.0.1 that keeps every event it is sent and answers 202."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                endpoint.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


def deduplicated(events: list[dict]) -> list[dict]:
    """What a consumer dropping duplicates by CloudEvents id keeps, in the order it read them."""
    seen, kept = set(), []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            kept.append(event)
    return kept


def promotions_seen(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["data"]["version"], e["data"]["catalog"][0]["action"]) for e in deduplicated(events)]


def test_watch_gives_each_promotion_its_own_id_in_every_sink_and_a_retry_keeps_it(project_factory, registry,
                                                                                 kafka_broker, tmp_path):
    [name] = project_factory("repromoted", 1)
    registry.register(name, run=1)  # version 2
    settings = load_settings()
    topic = f"events-{uuid.uuid4().hex[:6]}"
    endpoint = Endpoint()
    sinks = [parse_sink(spec, settings.limits()) for spec in
             (f"jsonl:{tmp_path / 'events.jsonl'}", endpoint.url, f"kafka://{kafka_broker.bootstrap}/{topic}")]
    emitter = Emitter(sinks, tmp_path / "state" / "spool.jsonl")
    checkpoint = tmp_path / "state" / "checkpoint.json"
    watch = Watcher(settings, WatchOptions(checkpoint=checkpoint, once=True), emitter)
    try:
        assert watch.run() == 0  # the baseline: nothing in Production yet
        for version in VERSIONS:
            registry.alias(name, version)
            before = checkpoint.read_bytes()
            assert watch.run() == 0
        checkpoint.write_bytes(before)  # as if it crashed after the last events, before recording them
        assert watch.run() == 0  # the last promotion is acted on again (unchanged) and announced again
        kafka = read_events(kafka_broker.bootstrap, topic, len(VERSIONS), linger=1.0)
    finally:
        emitter.close()
        endpoint.close()
    written = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    for events in (written, endpoint.received, kafka):
        ids = [e["id"] for e in events]
        assert len(ids) == 4 and len(set(ids[:3])) == 3 and ids[3] == ids[2], ids  # the retry kept its id
        assert promotions_seen(events) == [("2", "created"), ("1", "updated"), ("2", "updated")]
        assert [e["data"]["promotion"]["generation"] for e in events] == ["1", "2", "3", "3"]


def test_through_the_kafka_queue_each_promotion_has_its_own_id(project_factory, registry, kafka_broker, tmp_path,
                                                               monkeypatch):
    [name] = project_factory("queued_again", 1)
    registry.register(name, run=1)
    monkeypatch.setenv("MLMETA_TIMEOUT", "5")
    suffix = uuid.uuid4().hex[:6]
    queue, topic = f"kafka://{kafka_broker.bootstrap}/deliveries-{suffix}", f"events-{suffix}"
    endpoint = Endpoint()
    worker = Mlmeta("worker", ["webhook", "work", "--queue", queue, "--group", f"workers-{suffix}", "--port", "0",
                               "--sink", f"kafka://{kafka_broker.bootstrap}/{topic}", "--sink", endpoint.url],
                    tmp_path)
    deliveries = None
    try:
        wait_for(lambda: any("work: committed" in line for line in worker.lines()), 90)  # the group's baseline
        deliveries = DeliveryQueue(parse_queue(queue), timeout=10)  # what a receiver does with a delivery
        for count, version in enumerate(VERSIONS, start=1):
            registry.alias(name, version)
            deliveries.accept(name, f"delivery-{count}-{suffix}", "model_version_alias.created", time.time())
            wait_for(lambda count=count: len(endpoint.received) == count, 60)  # acted on before the next
        committed = read_events(kafka_broker.bootstrap, topic, len(VERSIONS), linger=1.0)
    finally:
        if deliveries is not None:
            deliveries.close()
        worker.stop()
        endpoint.close()
        print(f"--- {worker.log.name}\n" + "\n".join(worker.lines()[-30:]))
    for events in (committed, endpoint.received):
        assert len({e["id"] for e in events}) == len(events) == 3
        assert promotions_seen(events) == [("2", "created"), ("1", "updated"), ("2", "updated")]


def test_publish_gives_a_version_published_again_after_a_rollback_its_own_id(project_factory, registry, cli,
                                                                             tmp_path):
    [name] = project_factory("published_again", 1)
    registry.register(name, run=1)
    sink = tmp_path / "events.jsonl"
    for version in (*VERSIONS, "2"):  # the last run finds it published already: unchanged, no event
        registry.alias(name, version)
        result = cli("publish", "--all", "--emit-events", "--sink", f"jsonl:{sink}")
        assert result.exit_code == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in sink.read_text().splitlines()]
    assert len({e["id"] for e in events}) == len(events) == 3
    assert promotions_seen(events) == [("2", "created"), ("1", "updated"), ("2", "updated")]
