"""``mlmeta webhook serve``: a real MLflow webhook delivery publishes the promoted version; bad
signatures, stale timestamps and replays are refused with nothing published; the GitHub
dispatch it forwards is checked on a local HTTP server that records it."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from mlmeta.config import load_settings
from mlmeta.events.sinks import Emitter, JsonLinesSink
from mlmeta.triggers.webhook import Receiver, WebhookOptions
from tests.helpers.files import REPO
from tests.helpers.publishing import entity
from tests.helpers.webhooks import SECRET, alias_event, deliver, wait_for


@pytest.fixture
def project(project_factory):
    return project_factory("hooked", 1)[0]


@pytest.fixture
def receiver(project, tmp_path):
    options = WebhookOptions(secret=SECRET, port=0, state_dir=tmp_path / "state")
    started = Receiver(load_settings(), options, Emitter([JsonLinesSink(str(tmp_path / "events.jsonl"))], None)).start()
    assert started.reconciled.wait(60)  # the pass at start is done: what follows is the test's own
    yield started
    started.stop()


def test_a_real_mlflow_webhook_publishes_the_promoted_version(project, receiver, registry, sandbox, tmp_path):
    registry.client.create_webhook(name=f"mlmeta-{project}", url=receiver.url,
                                   events=["model_version_alias.created"], secret=SECRET)
    time.sleep(1.5)  # MLflow caches each event's webhooks (1 s on the test server, 60 s by default)
    try:
        registry.alias(project, "1")  # MLflow delivers model_version_alias.created to the receiver
        wait_for(lambda: receiver.handled >= 1)
        assert entity(sandbox, project)["version"] == 0.1
        [event] = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
        assert event["data"]["trigger"] == "webhook" and event["data"]["catalog"][0]["action"] == "created"
    finally:
        for hook in registry.client.list_webhooks():
            if hook.name == f"mlmeta-{project}":
                registry.client.delete_webhook(hook.webhook_id)


@pytest.mark.parametrize("problem", ["bad signature", "stale", "replayed", "unsigned", "too large"])
def test_a_delivery_that_is_not_authentic_fresh_and_new_is_refused(problem, project, receiver, registry, sandbox):
    registry.alias(project, "1")
    if problem == "replayed":
        assert deliver(receiver, alias_event(project), delivery_id="d-1").status_code == 202
        wait_for(lambda: receiver.handled >= 1)
        sandbox.reset_stats()
        answer = deliver(receiver, alias_event(project), delivery_id="d-1")
        assert answer.status_code == 409 and answer.json()["error"] == "replayed delivery id"
    elif problem == "bad signature":
        answer = deliver(receiver, alias_event(project), secret="not-the-secret")
        assert answer.status_code == 401 and answer.json()["error"] == "bad signature"
    elif problem == "stale":
        answer = deliver(receiver, alias_event(project), timestamp=time.time() - 3600)
        assert answer.status_code == 401 and "stale" in answer.json()["error"]
    elif problem == "unsigned":
        answer = requests.post(receiver.url, json=alias_event(project), timeout=10)
        assert answer.status_code == 400
    else:
        answer = requests.post(receiver.url, data=b"x" * (65 * 1024), timeout=10)
        assert answer.status_code == 413
    time.sleep(0.5)
    assert not any(k.startswith(("PUT", "POST", "PATCH")) for k in sandbox.stats()["requests"])
    if problem != "replayed":
        assert receiver.handled == 0


def test_events_mlmeta_does_not_listen_to_are_acknowledged_and_ignored(project, receiver):
    answer = deliver(receiver, {"entity": "registered_model", "action": "created", "data": {"name": project}})
    assert answer.status_code == 200 and answer.json() == {"ignored": "registered_model.created"}


def test_a_full_journal_answers_503_so_mlflow_retries(project, tmp_path):
    options = WebhookOptions(secret=SECRET, port=0, queue_size=1, state_dir=tmp_path / "state")
    receiver = Receiver(load_settings(), options, Emitter([], None))  # no worker: nobody empties the journal
    receiver.journal.open()
    try:
        receiver.listener.start()
        assert deliver(receiver, alias_event(project)).status_code == 202
        full = deliver(receiver, alias_event(project))
        assert full.status_code == 503 and full.headers["Retry-After"] == "10"
    finally:
        receiver.listener.stop()
        receiver.journal.close()


def test_forwarding_sends_a_repository_dispatch_instead_of_publishing(project, registry, sandbox, tmp_path):
    received: list[tuple[str, dict, dict]] = []

    class GitHub(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    github = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    threading.Thread(target=github.serve_forever, daemon=True).start()
    options = WebhookOptions(secret=SECRET, port=0, forward="github-dispatch", github_repository="acme/models",
                             github_token="ghp_test_token_value", state_dir=tmp_path / "state",
                             github_api_url=f"http://127.0.0.1:{github.server_address[1]}")
    receiver = Receiver(load_settings(), options, Emitter([], None)).start()
    assert receiver.reconciled.wait(60)
    try:
        registry.alias(project, "1")
        assert deliver(receiver, alias_event(project)).status_code == 202
        wait_for(lambda: received)
        path, headers, body = received[0]
        assert path == "/repos/acme/models/dispatches"
        assert headers["Authorization"] == "Bearer ghp_test_token_value"
        assert body == {"event_type": "mlflow-promotion", "client_payload": {
            "registered_model": project, "version": "1", "recognised_by": "alias", "marker": "champion"}}
        assert not any(k.startswith(("PUT", "POST", "PATCH")) for k in sandbox.stats()["requests"])
    finally:
        receiver.stop()
        github.shutdown()
        github.server_close()


def test_metrics_are_prometheus_text_that_its_own_parser_reads(project, receiver, registry, sandbox):
    from prometheus_client.parser import text_string_to_metric_families

    registry.alias(project, "1")
    assert deliver(receiver, alias_event(project)).status_code == 202
    wait_for(lambda: receiver.handled >= 1)
    answer = requests.get(receiver.url.rstrip("/") + "/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(answer.text) for s in family.samples}
    assert samples[("mlmeta_promotions_received_total", ())] == 1
    assert samples[("mlmeta_promotions_acted_total", ())] == 1
    assert samples[("mlmeta_promotion_latency_seconds_count", ())] == 1
    assert samples[("mlmeta_journal_depth", ())] == 0
    sink = receiver.emitter.sinks[0].name
    assert samples[("mlmeta_events_delivered_total", (("sink", sink),))] == 1
    assert samples[("mlmeta_events_spooled", (("sink", sink),))] == 0


def test_health_says_not_ready_while_the_journal_cannot_be_written(project, receiver, tmp_path):
    assert requests.get(receiver.url.rstrip("/") + "/health", timeout=10).json()["status"] == "ok"
    receiver.journal._handle = open("/dev/full", "ab", buffering=0)  # noqa: SIM115 - a full disk (ENOSPC)
    answer = deliver(receiver, alias_event(project))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    health = requests.get(receiver.url.rstrip("/") + "/health", timeout=10)
    assert health.status_code == 503 and "the journal cannot be written" in health.json()["reason"]


def test_a_second_receiver_on_the_same_state_dir_stops_naming_the_first(project, receiver, tmp_path):
    from mlmeta.errors import UsageError

    second = Receiver(load_settings(), WebhookOptions(secret=SECRET, port=0, state_dir=tmp_path / "state"),
                      Emitter([], None))
    try:
        with pytest.raises(UsageError, match=rf"another mlmeta webhook serve \(pid {os.getpid()}\) works on"):
            second.start()
    finally:
        second.listener.stop()


def test_an_unwritable_state_dir_is_exit_2_naming_it(cli, project, tmp_path):
    # A folder below a regular file cannot be made by anyone, root included (chmod does not stop root).
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli("webhook", "serve", "--port", "0", "--state-dir", str(blocker / "state"),
                 env={"MLMETA_WEBHOOK_SECRET": SECRET})
    assert result.exit_code == 2, result.stderr
    assert "--state-dir:" in result.stderr and "cannot be written" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_logs_are_one_object_per_line(project, tmp_path, registry, sandbox):
    ready = tmp_path / "ready.json"
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "webhook", "serve", "--port", "0", "--state-dir",
                                str(tmp_path / "state"), "--ready-file", str(ready), "--log-format", "json"],
                               env={**os.environ, "MLMETA_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: ready.exists(), 60)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["message"].startswith("webhook: listening on http://127.0.0.1:") for line in lines)
    assert any("the rest waits in the journal" in line["message"] for line in lines)
