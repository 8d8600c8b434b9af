"""``webhook serve --queue`` and ``webhook work`` on Apache Kafka's own broker, as whole processes:
two receivers behind a (test-made) load balancer, two workers in one consumer group, one of them
killed with SIGKILL in the middle of a publish. Its partitions move to the other, every promotion
is published, and each event id is emitted once - read as a consumer with
``isolation.level=read_committed`` reads it."""

from __future__ import annotations

import collections
import http.server
import json
import re
import signal
import threading
import time
import uuid
from types import SimpleNamespace

import requests

from tests.helpers.publishing import entity
from tests.helpers.receivers import Mlmeta, listening, read_events, scrape
from tests.helpers.webhooks import alias_event, deliver, wait_for


def assigned(worker: Mlmeta) -> set[int]:
    """The partitions a worker holds, from its last 'assigned'/'revoked' line."""
    found = [re.search(r"\(now \[([\d, ]*)\]\)", line) for line in worker.lines()]
    last = [m for m in found if m]
    return {int(p) for p in last[-1].group(1).split(",") if p.strip()} if last else set()


def test_two_receivers_two_workers_one_killed_mid_publish_every_promotion_once(
        project_factory, registry, sandbox, kafka_broker, tmp_path, monkeypatch):
    models = project_factory("queued", 4)
    for name in models:
        registry.register(name, run=1)  # version 2, promoted in the second wave
    monkeypatch.setenv("MLMETA_TIMEOUT", "5")
    monkeypatch.setenv("MLMETA_DEADLINE", "20")
    suffix = uuid.uuid4().hex[:6]
    queue, events_topic = f"kafka://{kafka_broker.bootstrap}/deliveries-{suffix}", f"events-{suffix}"
    receivers = [Mlmeta(f"receiver{i}", ["webhook", "serve", "--queue", queue, "--port", "0", "--ready-file",
                                         str(tmp_path / f"receiver{i}.json")], tmp_path) for i in (1, 2)]
    work = ["webhook", "work", "--queue", queue, "--group", f"workers-{suffix}", "--port", "0",
            "--sink", f"kafka://{kafka_broker.bootstrap}/{events_topic}"]
    workers = [Mlmeta(f"worker{i}", work, tmp_path) for i in (1, 2)]
    try:
        urls = [listening(tmp_path / f"receiver{i}.json") for i in (1, 2)]
        # both workers in the group, the three partitions shared between them
        wait_for(lambda: all(assigned(w) for w in workers) and assigned(workers[0]) | assigned(workers[1]) == {0, 1, 2},
                 90)

        def promote(version: str) -> None:
            for n, name in enumerate(models):
                registry.alias(name, version)
                answer = deliver(SimpleNamespace(url=urls[n % 2]), alias_event(name, version))  # the load balancer takes turns
                assert answer.status_code == 202, answer.text

        promote("1")
        first = read_events(kafka_broker.bootstrap, events_topic, len(models), linger=0)
        assert {(e["data"]["name"], e["data"]["version"]) for e in first} == {(m, "1") for m in models}

        # the second wave, on a slow catalog: the first worker to act on it is killed mid-publish
        sandbox.set_faults(latency_ms=1000)
        seen = [len(w.lines()) for w in workers]
        promote("2")
        acting = lambda: [w for w, n in zip(workers, seen) if any("work: acting on" in x for x in w.lines()[n:])]
        wait_for(lambda: acting(), 60)
        victim = acting()[0]
        time.sleep(1.5)  # the catalog answers after a second: its publish is under way
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed_after = victim.lines()[seen[workers.index(victim)]:]
        assert not any("work: committed" in line for line in killed_after), killed_after  # killed before its commit
        sandbox.clear_faults()
        survivor = workers[1 - workers.index(victim)]
        wait_for(lambda: assigned(survivor) == {0, 1, 2}, 60)  # the victim's partitions moved to the survivor

        events = read_events(kafka_broker.bootstrap, events_topic, 2 * len(models))
        ids = collections.Counter(e["id"] for e in events)
        assert len(ids) == 2 * len(models) and set(ids.values()) == {1}, ids  # every promotion, each id once
        for name in models:
            versions = [e["data"]["version"] for e in events if e["data"]["name"] == name]
            assert versions == ["1", "2"]  # in order per model
            assert entity(sandbox, name)["version"] == 0.2  # version 2 is what the catalog says
        assert sum(scrape(url)["mlmeta_promotions_received_total"] for url in urls) == 2 * len(models)
        [status] = [re.search(r"health and metrics on (\S+)/health", x).group(1) for x in survivor.lines()
                    if "health and metrics on" in x]
        health = requests.get(f"{status}/health", timeout=10).json()
        assert health["status"] == "ok" and health["partitions"] == [0, 1, 2]
        counted = scrape(status)
        assert counted["mlmeta_promotions_acted_total"] >= 1 and counted["mlmeta_promotions_failed_total"] == 0
    finally:
        sandbox.clear_faults()
        for process in receivers + workers:
            process.stop()
        for process in receivers + workers:
            print(f"--- {process.log.name}\n" + "\n".join(process.lines()[-40:]))


class HangingEndpoint:
    """An HTTP event sink whose first POST hangs (until released), and whose others answer 202."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.release = threading.Event()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                endpoint.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if len(endpoint.received) == 1:
                    endpoint.release.wait(60)
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_worker_killed_between_its_events_and_its_commit_leaves_them_aborted(project_factory, registry, sandbox,
                                                                              kafka_broker, tmp_path, monkeypatch):
    """The window exactly once is about: the event is on the Kafka sink's topic, in an open
    transaction, and the worker dies while the HTTP sink takes its copy. The next owner of the
    partition writes the event again: a read_committed consumer reads it once (a read_uncommitted
    one sees the aborted copy too); the HTTP sink, at least once, gets it twice with the same id."""
    [name] = project_factory("windowed", 1)
    monkeypatch.setenv("MLMETA_TIMEOUT", "2")
    monkeypatch.setenv("MLMETA_DEADLINE", "5")  # the transaction's timeout: 5 + 2 + 10 s
    suffix = uuid.uuid4().hex[:6]
    queue, topic = f"kafka://{kafka_broker.bootstrap}/deliveries-{suffix}", f"events-{suffix}"
    endpoint = HangingEndpoint()
    work = ["webhook", "work", "--queue", queue, "--group", f"workers-{suffix}",
            "--sink", f"kafka://{kafka_broker.bootstrap}/{topic}", "--sink", endpoint.url]
    receiver = Mlmeta("receiver", ["webhook", "serve", "--queue", queue, "--port", "0", "--ready-file",
                                   str(tmp_path / "receiver.json")], tmp_path)
    first = Mlmeta("worker1", work, tmp_path)
    second = None
    try:
        url = listening(tmp_path / "receiver.json")
        wait_for(lambda: any("work: committed" in line for line in first.lines()), 90)  # its baseline is done
        registry.alias(name, "1")
        assert deliver(SimpleNamespace(url=url), alias_event(name)).status_code == 202
        wait_for(lambda: endpoint.received, 60)  # the HTTP sink's copy: after the Kafka one, before the commit
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        lines = first.lines()
        acting = max(i for i, line in enumerate(lines) if "work: acting on" in line)
        assert not any("work: committed" in line for line in lines[acting:])  # killed before its commit
        second = Mlmeta("worker2", work, tmp_path)
        committed = read_events(kafka_broker.bootstrap, topic, 1)
        everything = read_events(kafka_broker.bootstrap, topic, 1, isolation="read_uncommitted")
    finally:
        endpoint.close()
        for process in (receiver, first, second):
            if process is not None:
                process.stop()
                print(f"--- {process.log.name}\n" + "\n".join(process.lines()[-30:]))
    assert [e["subject"] for e in committed] == [f"{name}/1"]  # once, for read_committed consumers
    assert [e["id"] for e in everything] == [committed[0]["id"]] * 2  # the aborted copy, and the committed one
    assert [e["id"] for e in endpoint.received] == [committed[0]["id"]] * 2  # at least once, the same id
    assert entity(sandbox, name)["version"] == 0.1
