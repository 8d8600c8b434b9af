"""The queue mode's settings, refused before anything starts: a queue that is not Kafka's, a broker that
cannot be reached, flags that do not go with it (no broker runs)."""

from __future__ import annotations

import time

import pytest

from mlmeta.demo.services import free_port


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
