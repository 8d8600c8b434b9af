"""Replays (docs/security.md, "Requests from the network"): a captured delivery sent again - after a
restart, or once a future-dated one would have been forgotten - is refused 409; a signed timestamp
that is not a finite number is refused before it reaches the freshness check or the journal; a
delivery answered 503 may be sent again (MLflow's retry is not a replay); the ids kept are bounded,
pruned, and private."""

from __future__ import annotations

import stat
import time

import pytest

from mlmeta.triggers.journal import Journal
from mlmeta.triggers.replay import SeenDeliveries, TooManyDeliveries
from tests.helpers.projects import make_project
from tests.helpers.webhooks import alias_event, wait_for
from tests.security.receiver_process import ReceiverProcess, no_receiver_left  # noqa: F401 - an autouse fixture


@pytest.fixture
def model(in_tmp, registry, sandbox, mlflow_server, monkeypatch) -> str:
    return make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "replayed", 1)[0]


def test_a_captured_delivery_replayed_after_a_restart_is_409(model, tmp_path):
    first = ReceiverProcess(tmp_path)
    first.reconciled()
    stamp = str(int(time.time()))
    assert first.deliver(alias_event(model), delivery_id="captured-1", timestamp=stamp).status_code == 202
    assert first.stop() == 0
    second = ReceiverProcess(tmp_path)
    try:
        replay = second.deliver(alias_event(model), delivery_id="captured-1", timestamp=stamp)
        assert replay.status_code == 409 and replay.json() == {"error": "replayed delivery id"}
        assert second.deliver(alias_event(model), delivery_id="fresh-1").status_code == 202
    finally:
        assert second.stop() == 0
    ids = tmp_path / "state" / "webhook-deliveries.jsonl"
    assert stat.S_IMODE(ids.stat().st_mode) == 0o600


def test_a_future_dated_delivery_is_refused_for_as_long_as_it_is_fresh(model, tmp_path):
    # fresh from timestamp - max_age to timestamp + max_age: 4 s, of which 3 after the first 202
    receiver = ReceiverProcess(tmp_path, "--max-age", "2")
    try:
        receiver.reconciled()
        ahead = str(int(time.time()) + 2)
        assert receiver.deliver(alias_event(model), delivery_id="ahead-1", timestamp=ahead).status_code == 202
        time.sleep(2.2)  # received + max_age has passed; timestamp + max_age has not
        replay = receiver.deliver(alias_event(model), delivery_id="ahead-1", timestamp=ahead)
        assert replay.status_code == 409, replay.text
    finally:
        assert receiver.stop() == 0


@pytest.mark.parametrize("timestamp", ["nan", "NaN", "inf", "-inf", "1e400", "-1e400", "infinity"])
def test_a_signed_timestamp_that_is_not_a_finite_number_is_400_and_never_journaled(model, tmp_path, timestamp):
    receiver = ReceiverProcess(tmp_path)
    try:
        answer = receiver.deliver(alias_event(model), timestamp=timestamp)
        assert answer.status_code == 400 and "finite" in answer.json()["error"]
    finally:
        assert receiver.stop() == 0
    journal = Journal(tmp_path / "state" / "webhook-journal.jsonl")
    assert journal.open().open_entries == 0 and "accept" not in journal.path.read_text()
    journal.close()


def test_a_delivery_answered_503_is_taken_when_mlflow_sends_it_again(model, tmp_path, registry, sandbox):
    receiver = ReceiverProcess(tmp_path, "--queue-size", "1")
    try:
        receiver.reconciled()
        registry.alias(model, "1")
        sandbox.set_faults(latency_ms=3000)  # the worker's publish holds the one place in the journal
        assert receiver.deliver(alias_event(model)).status_code == 202
        stamp = str(int(time.time()))
        busy = receiver.deliver(alias_event(model), delivery_id="retried-1", timestamp=stamp)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "10"
        sandbox.clear_faults()
        wait_for(lambda: receiver.health().json()["journal"] == 0, 30)
        again = receiver.deliver(alias_event(model), delivery_id="retried-1", timestamp=stamp)  # MLflow's retry
        assert again.status_code == 202, again.text
    finally:
        assert receiver.stop() == 0


# --- the ids kept: bounded, pruned ---------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ids_are_kept_until_their_timestamp_plus_max_age_then_pruned_from_memory_and_file(tmp_path):
    clock = Clock(1_000_000.0)
    path = tmp_path / "state" / "webhook-deliveries.jsonl"
    seen = SeenDeliveries(path, clock=clock)
    seen.open()
    assert seen.claim("past", 1_000_000.0 - 100 + 300) and seen.claim("future", 1_000_000.0 + 300 + 300)
    seen.keep("past")
    seen.keep("future")
    assert not seen.claim("past", 0) and not seen.claim("future", 0)
    seen.close()
    clock.now += 400  # "past" is stale by now; "future" is fresh until 1,000,600
    again = SeenDeliveries(path, clock=clock)
    again.open()
    assert "past" not in again and "future" in again
    assert path.read_text().count("\n") == 1  # rewritten with the live id only
    clock.now += 201
    assert "future" not in again and again.claim("future", clock.now + 300)


def test_beyond_the_limit_a_delivery_is_not_remembered_and_answered_busy(tmp_path):
    clock = Clock(1_000_000.0)
    seen = SeenDeliveries(None, limit=3, clock=clock)
    for number in range(3):
        assert seen.claim(f"id-{number}", clock.now + 300)
    with pytest.raises(TooManyDeliveries):
        seen.claim("one-too-many", clock.now + 300)
    clock.now += 301  # all expired: room again
    assert seen.claim("one-too-many", clock.now + 300) and len(seen) == 1
