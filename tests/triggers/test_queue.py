"""``--queue``: what is not kafka://host:port/topic, and a broker that cannot be reached, stop the
command at once (exit 2, naming the option and the broker's own cause); ``webhook serve --queue
--also-work`` receives and works in one process, on the real broker."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from mlmeta.demo.services import free_port
from tests.test_publish import entity
from tests.triggers.test_queue_worker import Mlmeta, listening, scrape
from tests.triggers.test_webhook import alias_event, deliver, wait_for


@pytest.mark.parametrize("queue", ["kafka://broker/deliveries", "http://broker:9092/deliveries",
                                   "kafka://broker:9092/", "kafka://broker:9092/a/b", "kafka://broker:port/x"])
@pytest.mark.parametrize("command", [["webhook", "serve"], ["webhook", "work"]])
def test_a_queue_that_is_not_kafka_host_port_topic_is_a_usage_error_naming_it(cli, in_tmp, command, queue):
    result = cli(*command, "--queue", queue, env={"MLMETA_WEBHOOK_SECRET": "s3cret"})
    assert result.exit_code == 2 and f"error: --queue {queue}: not kafka://host:port/topic" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["webhook", "serve"], ["webhook", "work"]])
def test_a_broker_that_cannot_be_reached_is_exit_2_with_its_cause_within_the_timeout(cli, in_tmp, command):
    queue = f"kafka://127.0.0.1:{free_port()}/deliveries"
    started = time.monotonic()
    result = cli(*command, "--queue", queue, "--timeout", "2",
                 env={"MLMETA_WEBHOOK_SECRET": "s3cret", "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    assert result.exit_code == 2, result.stderr
    assert f"error: --queue {queue}: the broker cannot be reached within 2 s:" in result.stderr
    assert "Connection refused" in result.stderr and time.monotonic() - started < 10


@pytest.mark.parametrize(("args", "refused"), [
    (["--also-work"], "--also-work works on a Kafka queue"),
    (["--queue", "kafka://broker:9092/q", "--sink", "-"], "--sink: with --queue, the workers emit the events"),
    (["--queue", "kafka://broker:9092/q", "--spool", "s.jsonl"], "--spool: with --queue nothing waits on a disk"),
    (["--queue", "kafka://broker:9092/q", "--forward", "github-dispatch"], "--forward: with --queue, the workers")])
def test_flags_that_do_not_go_with_the_queue_mode_are_refused(cli, in_tmp, args, refused):
    result = cli("webhook", "serve", *args, env={"MLMETA_WEBHOOK_SECRET": "s3cret"})
    assert result.exit_code == 2 and f"error: {refused}" in result.stderr


@pytest.mark.slow
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


