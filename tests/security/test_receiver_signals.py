"""Signals (docs/security.md; the issue's point 7): bursts of SIGTERM during start-up - before the
ready file and right after it - and during a publish. Every time, the receiver stops in order: exit
0, no traceback, and a journal the next start reads whole. (A burst once deadlocked it, inside the
handler's ``Event.set()``; a SIGTERM right after the ready file once killed it, exit -15.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from mlmeta.triggers.journal import Journal
from tests.helpers.projects import make_project
from tests.helpers.webhooks import alias_event
from tests.security.receiver_process import ReceiverProcess, no_receiver_left  # noqa: F401 - an autouse fixture

ROUNDS = 3


@pytest.fixture
def model(in_tmp, registry, sandbox, mlflow_server, monkeypatch) -> str:
    return make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "signalled", 1)[0]


def burst(pid: int, count: int = 200) -> None:
    for _ in range(count):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return  # already gone: its exit code says how


def as_soon_as(condition, seconds: float = 60) -> None:
    """Poll tightly: the moments these tests aim at last milliseconds."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert condition()


def stopped_in_order(receiver: ReceiverProcess) -> None:
    try:
        code = receiver.process.wait(60)
    except subprocess.TimeoutExpired:  # the old handler deadlocked so: a lock re-entered by the next signal
        receiver.process.kill()
        receiver.process.wait()
        raise AssertionError(f"still running 60 s after the burst (deadlocked?)\n{receiver.stderr()}") from None
    assert code == 0, receiver.stderr()
    assert "Traceback" not in receiver.stderr()
    journal = Journal(receiver.state / "webhook-journal.jsonl")
    recovery = journal.open()
    journal.close()
    assert recovery.damaged is None, recovery


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_burst_during_start_up_before_the_ready_file_stops_it_in_order(model, tmp_path, round_):
    receiver = ReceiverProcess(tmp_path / str(round_), wait=False)
    # the state folder is made on the way up, after the handlers are in place and before the
    # listener is bound, the journal opened and the ready file written
    as_soon_as(lambda: receiver.state.exists() or receiver.process.poll() is not None)
    burst(receiver.pid)
    stopped_in_order(receiver)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_burst_right_after_the_ready_file_stops_it_in_order(model, tmp_path, round_):
    receiver = ReceiverProcess(tmp_path / str(round_), wait=False)
    as_soon_as(lambda: receiver.ready.exists() or receiver.process.poll() is not None)
    burst(receiver.pid)
    stopped_in_order(receiver)
    assert "webhook: stopping" in receiver.stderr()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_burst_during_a_publish_lets_it_finish_and_keeps_the_journal(model, tmp_path, registry, sandbox, round_):
    receiver = ReceiverProcess(tmp_path / str(round_))
    receiver.reconciled()
    registry.alias(model, "1")
    sandbox.set_faults(latency_ms=400)  # the publish is under way when the burst lands
    try:
        assert receiver.deliver(alias_event(model)).status_code == 202
        time.sleep(0.5)
        burst(receiver.pid)
        time.sleep(0.05)
        burst(receiver.pid)  # and again while it stops
        stopped_in_order(receiver)
    finally:
        sandbox.clear_faults()
