"""Every part restarted, against the real servers: a receiver killed right after its 202, the
catalog down while a promotion arrives, the registry down during a reconciliation pass, a flood
of deliveries - nothing lost, nothing published twice beyond what idempotency absorbs, exactly
one event per promotion.

A server "goes down" behind a ``SwitchableProxy``: connections refused and cut, then accepted
again on the same port, while the real server (shared by the session) keeps running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mlmeta.config import load_settings
from mlmeta.demo.peers import SwitchableProxy
from mlmeta.events.sinks import Emitter, JsonLinesSink
from mlmeta.triggers.watch import Watcher, WatchOptions
from mlmeta.triggers.webhook import Receiver, WebhookOptions, signature
from tests.helpers.files import REPO, write
from tests.helpers.publishing import SPEC, entity
from tests.helpers.soak import interval, outage
from tests.helpers.webhooks import SECRET, alias_event, deliver, wait_for


PROBE = interval(5, 3)  # seconds between the probes of a server that is down


def events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def published(sandbox, name: str) -> bool:
    return "id" in entity(sandbox, name)


@pytest.fixture
def proxied(monkeypatch, sandbox, mlflow_server):
    """``proxied(project)``: the project, with mlmeta pointed at proxies in front of OpenMetadata
    and MLflow - returned, to switch off and on."""
    catalog, registry = SwitchableProxy(sandbox.url), SwitchableProxy(mlflow_server.url)

    def through(project):
        monkeypatch.setenv("OPENMETADATA_HOST", catalog.url)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.url)
        return project, catalog, registry

    yield through
    catalog.close()
    registry.close()


def receiver_in(tmp_path, lines: list[str], **options) -> Receiver:
    settings = load_settings()
    emitter = Emitter([JsonLinesSink(str(tmp_path / "events.jsonl"))], tmp_path / "state" / "spool.jsonl")
    started = Receiver(settings, WebhookOptions(secret=SECRET, port=0, state_dir=tmp_path / "state", **options),
                       emitter, lines.append).start()
    assert started.reconciled.wait(60)
    return started


def test_a_delivery_accepted_right_before_a_kill_is_published_after_the_restart(project_factory, registry,
                                                                                 sandbox, tmp_path):
    [name] = project_factory("killed", 1)
    state, ready = tmp_path / "state", tmp_path / "ready.json"
    command = [sys.executable, "-m", "mlmeta", "webhook", "serve", "--port", "0", "--state-dir", str(state),
               "--ready-file", str(ready), "--sink", f"jsonl:{tmp_path / 'events.jsonl'}", "--retry-interval", "1"]
    env = {**os.environ, "MLMETA_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(REPO)}

    def start(log_name: str) -> tuple[subprocess.Popen, str]:
        ready.unlink(missing_ok=True)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=(tmp_path / log_name).open("w"))
        wait_for(lambda: ready.exists(), 60)
        url = json.loads(ready.read_text())["url"]
        wait_for(lambda: requests.get(url.rstrip("/") + "/health", timeout=5).json()["reconciled"], 60)
        return process, url

    first, url = start("first.log")
    registry.alias(name, "1")
    sandbox.set_faults(latency_ms=3000)  # the publish is under way when the kill lands
    answer = _deliver_to(url, alias_event(name))
    assert answer.status_code == 202
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    sandbox.clear_faults()
    second, url = start("second.log")
    try:
        wait_for(lambda: published(sandbox, name), 60)
        wait_for(lambda: requests.get(url.rstrip("/") + "/health", timeout=5).json()["journal"] == 0, 30)
        assert "1 delivery(ies) accepted by an earlier run are acted on first" in (tmp_path / "second.log").read_text()
        [event] = events(tmp_path / "events.jsonl")
        assert event["data"]["name"] == name and event["data"]["trigger"] == "webhook"
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0


def _deliver_to(url: str, payload: dict) -> requests.Response:
    body = json.dumps(payload).encode()
    delivery_id, stamp = uuid.uuid4().hex, str(int(time.time()))
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": signature(SECRET, delivery_id, stamp, body)})


@pytest.mark.timeout(600)
def test_a_promotion_arriving_while_the_catalog_is_down_is_published_once_it_is_back(project_factory, registry,
                                                                                   sandbox, proxied, tmp_path):
    [name], catalog, _ = proxied(project_factory("outage", 1))
    lines: list[str] = []
    receiver = receiver_in(tmp_path, lines, retry_interval=PROBE)
    try:
        catalog.down()
        registry.alias(name, "1")
        assert deliver(receiver, alias_event(name)).status_code == 202  # accepted, though it cannot be acted on
        time.sleep(outage(120, 4 * PROBE))  # the catalog is down for two minutes (make test-soak), or many probes
        assert not published(sandbox, name) and receiver.journal.depth == 1
        catalog.up()
        back = time.monotonic()
        wait_for(lambda: published(sandbox, name), 30)
        assert time.monotonic() - back <= PROBE + 3  # within one probe interval (and the publish)
        wait_for(lambda: receiver.journal.depth == 0, 10)
        [event] = events(tmp_path / "events.jsonl")
        assert event["data"]["catalog"][0]["action"] == "created"
        down = [line for line in lines if f"probing every {PROBE:g} s" in line]
        back_lines = [line for line in lines if "answer again" in line]
        assert len(down) == 1 and len(back_lines) == 1, lines  # said once each way, not on every probe
    finally:
        receiver.stop()


def test_watch_catches_up_within_two_intervals_of_the_catalog_coming_back(project_factory, registry, sandbox,
                                                                          proxied, tmp_path):
    [name], catalog, _ = proxied(project_factory("watched_outage", 1))
    lines: list[str] = []
    events_file = tmp_path / "events.jsonl"
    options = WatchOptions(checkpoint=tmp_path / "state" / "checkpoint.json", interval=PROBE, jitter=0)
    watcher = Watcher(load_settings(), options, Emitter([JsonLinesSink(str(events_file))], None),
                      lines.append)
    watcher.run_pass()  # the baseline: nothing in Production yet
    runner = threading.Thread(target=watcher.run, daemon=True)
    catalog.down()
    runner.start()
    try:
        registry.alias(name, "1")
        time.sleep(outage(30, 4 * PROBE))  # several failed passes and probes
        catalog.up()
        back = time.monotonic()
        wait_for(lambda: published(sandbox, name), 20)
        assert time.monotonic() - back <= 2 * PROBE
        wait_for(lambda: events(events_file), 10)
        time.sleep(PROBE + 1)  # one more pass: nothing new, no second event
        [event] = events(events_file)
        assert event["data"]["name"] == name and event["data"]["catalog"][0]["action"] == "created"
        assert sum(f"probing every {PROBE:g} s" in line for line in lines) == 1
    finally:
        watcher.stop()
        runner.join(30)


def test_the_registry_down_during_a_reconciliation_pass_is_retried_and_catches_up(project_factory, registry,
                                                                                   sandbox, proxied, tmp_path):
    """A promotion MLflow never delivered (no webhook at all here) is found by reconciliation."""
    [name], _, mlflow = proxied(project_factory("reconciled", 1))
    lines: list[str] = []
    receiver = receiver_in(tmp_path, lines, reconcile_interval=2, retry_interval=1)
    try:
        mlflow.down()
        registry.alias(name, "1")  # straight to MLflow: mlmeta cannot see it now
        wait_for(lambda: any("probing every 1 s" in line for line in lines), 20)
        assert not published(sandbox, name)
        mlflow.up()
        wait_for(lambda: published(sandbox, name), 20)
        wait_for(lambda: events(tmp_path / "events.jsonl"), 10)
        [event] = events(tmp_path / "events.jsonl")
        assert event["data"]["name"] == name and event["data"]["trigger"] == "webhook"
    finally:
        receiver.stop()


@pytest.mark.timeout(600)
def test_a_flood_of_deliveries_is_bounded_coalesced_and_never_a_5xx_but_503(registry, sandbox, mlflow_server,
                                                                            in_tmp, monkeypatch, tmp_path):
    names = [f"flood_{uuid.uuid4().hex[:6]}_{i:02d}" for i in range(50)]
    for name in names:
        write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
        registry.alias(name, registry.register(name))
    for key, value in {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
                       "MLFLOW_TRACKING_URI": mlflow_server.url}.items():
        monkeypatch.setenv(key, value)
    lines: list[str] = []
    receiver = receiver_in(tmp_path, lines, queue_size=300)  # the start's pass publishes the 50 models
    for name in names:  # then each gets a new version in Production: 50 promotions, 1,000 deliveries
        registry.alias(name, registry.register(name, run=1))
    sandbox.reset_stats()
    try:
        tracemalloc.start()
        statuses: list[tuple[int, str | None]] = []

        start = time.monotonic()

        def send(i: int) -> None:
            time.sleep(max(0.0, start + i / 100 - time.monotonic()))  # 1,000 deliveries over 10 s
            answer = deliver(receiver, alias_event(names[i % 50]))
            statuses.append((answer.status_code, answer.headers.get("Retry-After")))

        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(send, range(1000)))
        wait_for(lambda: receiver.journal.depth == 0, 120)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(statuses) == 1000
        assert {status for status, _ in statuses} <= {202, 503}
        assert all(retry == "10" for status, retry in statuses if status == 503)
        assert peak < 40 * 1024 * 1024, peak  # bounded: the journal, not the flood, holds the work
        # coalesced: one publish (one PATCH) and one event per promotion, not one per delivery
        writes = {k: v for k, v in sandbox.stats()["requests"].items() if k.startswith(("PUT", "POST", "PATCH"))}
        assert writes == {"PATCH /v1/mlmodels/{key}": 50}
        assert sorted(e["data"]["name"] for e in events(tmp_path / "events.jsonl")) == sorted(names)
        assert receiver.handled == sum(1 for status, _ in statuses if status == 202)
    finally:
        receiver.stop()
