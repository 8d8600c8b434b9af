"""``webhook serve --queue --also-work`` receives and works in one process, on the real broker (the
settings refused before anything starts: tests/unit/triggers/test_queue.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests.helpers.publishing import entity
from tests.helpers.receivers import Mlmeta, listening, scrape
from tests.helpers.webhooks import alias_event, deliver, wait_for


def test_serve_with_also_work_receives_and_publishes_in_one_process(project_factory, registry, sandbox,
                                                                     kafka_broker, tmp_path):
    [name] = project_factory("together", 1)
    queue = f"kafka://{kafka_broker.bootstrap}/deliveries-{name}"
    events = tmp_path / "events.jsonl"
    serve = Mlmeta("serve", ["webhook", "serve", "--queue", queue, "--also-work", "--group", f"g-{name}", "--port",
                             "0", "--ready-file", str(tmp_path / "ready.json"), "--sink", f"jsonl:{events}"],
                   tmp_path)
    try:
        url = listening(tmp_path / "ready.json")
        wait_for(lambda: any("work: committed" in line for line in serve.lines()), 60)  # its baseline is done
        registry.alias(name, "1")
        assert deliver(SimpleNamespace(url=url), alias_event(name)).status_code == 202
        wait_for(lambda: events.exists(), 60)
        [event] = [json.loads(line) for line in events.read_text().splitlines()]
        assert event["data"]["name"] == name and event["data"]["catalog"][0]["action"] == "created"
        assert entity(sandbox, name)["version"] == 0.1
        # one /metrics for both halves; acted is counted once the batch is committed, just after its events
        wait_for(lambda: scrape(url)["mlmeta_promotions_acted_total"] == 1, 20)
        assert scrape(url)["mlmeta_promotions_received_total"] == 1
    finally:
        serve.stop()
        print("\n".join(serve.lines()))
    assert serve.process.returncode == 0
