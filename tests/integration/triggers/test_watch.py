"""``mlmeta watch`` against a real MLflow server and the sandbox: promotions by alias and by stage
are published exactly once, each with one event; a restart misses nothing and repeats nothing;
two watchers share a checkpoint safely; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.helpers.files import write
from tests.helpers.publishing import entity
from tests.helpers.watching import events, watcher


@pytest.fixture
def project(project_factory):
    """Two specs (two registered models) and the environment mlmeta reads."""
    return project_factory("watched", 2)


def test_promotions_by_alias_and_stage_are_published_once_each_with_one_event(project, registry, sandbox, tmp_path):
    first, second = project
    watch, progress = watcher(tmp_path)
    assert watch.run() == 0  # the baseline: nothing in Production yet, no events
    assert events(tmp_path) == [] and "new checkpoint" in progress[-1]
    registry.alias(first, "1")
    registry.stage(second, "1")
    assert watch.run() == 0
    found = events(tmp_path)
    assert sorted((e["data"]["name"], e["data"]["promotion"]["recognisedBy"]) for e in found) == sorted([
        (first, "alias"), (second, "stage")])
    for event in found:
        assert event["specversion"] == "1.0" and event["type"] == "io.mlmeta.model.promoted"
        assert event["data"]["catalog"][0]["action"] == "created" and event["subject"].endswith("/1")
    assert entity(sandbox, first)["version"] == 0.1 and entity(sandbox, second)["version"] == 0.1
    sandbox.reset_stats()
    assert watch.run() == 0  # nothing new: nothing published, no event
    assert len(events(tmp_path)) == 2
    assert not any(k.startswith(("PUT", "POST", "PATCH")) for k in sandbox.stats()["requests"])


def test_a_promotion_made_while_stopped_is_published_once_after_the_restart(project, registry, sandbox, tmp_path):
    first, _ = project
    registry.alias(first, "1")
    watch, _ = watcher(tmp_path)
    watch.run()  # baseline: v1 is published to catch up, without an event
    assert events(tmp_path) == [] and entity(sandbox, first)["version"] == 0.1
    registry.alias(first, registry.register(first, run=1))  # promoted while no watcher runs
    restarted, _ = watcher(tmp_path)
    restarted.run()
    [event] = events(tmp_path)
    assert (event["data"]["name"], event["data"]["version"]) == (first, "2")
    assert event["data"]["catalog"][0] == {"action": "updated", "entityVersion": 0.2, "fqn": f"mlflow_models.{first}",
                                           "message": None, "spec": f"model_specs/{first}.yaml"}
    restarted.run()
    assert len(events(tmp_path)) == 1


def test_the_event_carries_what_the_export_request_carried(project, registry, tmp_path, mlflow_server):
    first, _ = project
    watch, _ = watcher(tmp_path)
    watch.run()
    registry.client.set_model_version_tag(first, "1", "team", "eta")
    registry.alias(first, "1")
    watch.run()
    [event] = events(tmp_path)
    data = event["data"]
    for field in ("name", "version", "creationTimestamp", "lastUpdatedTimestamp", "userId", "currentStage",
                  "description", "source", "runId", "status", "statusMessage", "tags", "runLink"):
        assert field in data, field
    assert data["tags"] == [{"key": "team", "value": "eta"}] and data["status"] == "READY"
    assert data["runId"] and data["source"].startswith("models:/") and data["aliases"] == ["champion"]
    assert event["source"] == mlflow_server.url and len(event["id"]) == 32


def test_two_watchers_on_one_checkpoint_act_once(project, registry, tmp_path):
    first, _ = project
    watch_a, _ = watcher(tmp_path)
    watch_a.run()
    registry.alias(first, "1")
    watch_b, _ = watcher(tmp_path)
    codes = []
    threads = [threading.Thread(target=lambda w=w: codes.append(w.run())) for w in (watch_a, watch_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert codes == [0, 0]
    assert len(events(tmp_path)) == 1  # the second waited for the first's pass, then found nothing new


def test_a_running_watcher_publishes_within_an_interval_and_sigterm_stops_it(project, registry, sandbox, tmp_path):
    first, _ = project
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "watch", "--interval", "1", "--checkpoint",
                                str(tmp_path / "checkpoint.json"), "--sink", f"jsonl:{tmp_path / 'events.jsonl'}"],
                               cwd=os.getcwd(), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        registry.alias(first, "1")
        promoted_at = time.monotonic()
        while not events(tmp_path) and time.monotonic() < promoted_at + 30:
            time.sleep(0.1)
        assert events(tmp_path), process.stderr
        assert time.monotonic() - promoted_at < 1 + 10  # one interval, plus the publish itself
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"{first} v1 (alias champion) -> mlflow_models.{first} created" in err
    assert len(events(tmp_path)) == 1 and entity(sandbox, first)["version"] == 0.1


def test_once_exits_1_when_a_promotion_failed_and_retries_after_the_spec_is_fixed(project, registry, tmp_path,
                                                                                in_tmp):
    first, _ = project
    watch, _ = watcher(tmp_path)
    watch.run()
    spec = in_tmp / "model_specs" / f"{first}.yaml"
    spec.write_text(spec.read_text().replace("users.premium", "users.premium_typo"))
    registry.alias(first, "1")
    assert watch.run() == 1
    [event] = events(tmp_path)
    assert event["data"]["catalog"][0]["action"] == "failed" and "premium_typo" in event["data"]["catalog"][0]["message"]
    assert watch.run() == 0 and len(events(tmp_path)) == 1  # same spec: not retried again and again
    spec.write_text(spec.read_text().replace("users.premium_typo", "users.premium"))
    watch.run()
    assert [e["data"]["catalog"][0]["action"] for e in events(tmp_path)] == ["failed", "created"]


def test_all_models_emits_events_for_models_no_spec_documents(project, registry, tmp_path):
    orphan = f"orphan_{uuid.uuid4().hex[:8]}"
    registry.register(orphan)
    watch, _ = watcher(tmp_path, all_models=True)
    watch.run()
    registry.alias(orphan, "1")
    watch.run()
    [event] = [e for e in events(tmp_path) if e["data"]["name"] == orphan]
    assert event["data"]["catalog"] == [{"action": "skipped", "entityVersion": None, "fqn": None,
                                         "message": "no spec documents this registered model", "spec": None}]


def test_a_failed_catch_up_on_a_new_checkpoint_exits_1_and_is_retried_once_its_spec_changes(project, registry, sandbox,
                                                                                           tmp_path, in_tmp, cli):
    first, _ = project
    spec = in_tmp / "model_specs" / f"{first}.yaml"
    spec.write_text(spec.read_text().replace("orders.last_update", "orders.last_updat"))
    registry.alias(first, "1")
    checkpoint = tmp_path / "cp.json"
    result = cli("watch", "--once", "--checkpoint", str(checkpoint))
    assert result.exit_code == 1, result.stderr
    assert f"{first} v1 (alias champion) -> mlflow_models.{first} failed" in result.stderr
    assert "1 model(s) in Production, 0 published to catch up, 1 failed" in result.stderr
    assert json.loads(checkpoint.read_text())["keys"][f"{first}|alias=champion|stage=Production"]["status"] == "failed"
    assert cli("watch", "--once", "--checkpoint", str(checkpoint)).exit_code == 0  # the same spec: not again
    spec.write_text(spec.read_text().replace("orders.last_updat", "orders.last_update"))
    assert cli("watch", "--once", "--checkpoint", str(checkpoint)).exit_code == 0
    assert entity(sandbox, first)["version"] == 0.1


def test_watch_from_a_subfolder_keeps_its_checkpoint_beside_the_project_file(project, cli, in_tmp, monkeypatch):
    """Seen: with mlmeta.toml at the root, the checkpoint went under the current folder."""
    write(in_tmp / "mlmeta.toml", 'service = "mlflow_models"\n')
    below = in_tmp / "model_specs" / "notes"
    below.mkdir()
    monkeypatch.chdir(below)
    result = cli("watch", "--once", "--sink", f"jsonl:{in_tmp / 'events.jsonl'}")
    assert result.exit_code == 0, result.stderr
    assert (in_tmp / ".mlmeta" / "watch-checkpoint.json").is_file()
    assert not (below / ".mlmeta").exists() and not (in_tmp / "model_specs" / ".mlmeta").exists()
