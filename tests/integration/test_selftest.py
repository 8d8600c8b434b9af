"""``mlmeta doctor --write-test`` against the sandbox playing each release: every behaviour of the
record matches where the sandbox plays the release as recorded, a behaviour switched on that the
release does not have is reported as the difference, and nothing is left behind or touched -
even when the run is interrupted, killed outright, or cannot remove its scratch service.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from mlmeta.catalog.releases import BY_KEY, RULES, capabilities
from mlmeta.commands import doctor_write_test as selftest
from mlmeta.standins.openmetadata import Sandbox
from tests.helpers.releases import NEWEST_PLAYED, newest_patch

# 1.5.3: a 1.5 before table-cp; the newest patches of two minors; the newest is the session's sandbox
PROFILES = ["1.5.3", newest_patch((1, 9)), newest_patch((1, 12))]


# a behaviour switched on in a release that does not have it; the sandbox cannot play `domains` so
# (the release's own schemas decide which field names exist)
SWITCHED = [("if_match", newest_patch((1, 8))), ("if_match_drops_entity_fields", NEWEST_PLAYED),
            ("content_etags", newest_patch((1, 12))), ("table_cp", "1.5.3"), ("edge_audit", "1.5.3"),
            ("source_hash_bumps_version", NEWEST_PLAYED), ("strict_names", newest_patch((1, 12)))]


ANOTHER_HOST = "not-" + socket.gethostname()


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def env_for(server: Sandbox, user: str = "mlmeta-bot") -> dict[str, str]:
    return {"OPENMETADATA_HOST": server.url, "OPENMETADATA_JWT_TOKEN": server.token(user)}


def write_test(cli, server: Sandbox, *args: str, user: str = "mlmeta-bot"):
    result = cli("doctor", "--write-test", "--format", "json", *args, env=env_for(server, user))
    return result.exit_code, json.loads(result.stdout), result.stderr


def catalog(server: Sandbox) -> dict:
    """Everything the sandbox holds: entities, their histories, lineage edges."""
    snapshot = server.app.state.snapshot()
    return {key: snapshot[key] for key in ("entities", "history", "edges")}


def scratch_services(server: Sandbox) -> list[str]:
    with server.app.state.lock:
        return [s["name"] for s in server.app.state.entities["mlmodelService"].values()
                if s["name"].startswith(selftest.PREFIX)]


def scratch_models(server: Sandbox) -> list[str]:
    with server.app.state.lock:
        return [m["fullyQualifiedName"] for m in server.app.state.entities["mlmodel"].values()
                if m["service"]["name"].startswith(selftest.PREFIX)]


@pytest.fixture(scope="module", params=PROFILES)
def profile(request):
    with Sandbox(server_version=request.param) as server:
        yield server


def assert_passes(cli, server: Sandbox) -> None:
    before = catalog(server)
    code, out, stderr = write_test(cli, server)
    assert code == 0, out
    record = capabilities(server.version)
    assert {b["key"]: (b["expected"], b["seen"], b["result"]) for b in out["behaviours"]} == {
        key: (record.has(key), record.has(key), "matched") for key in BY_KEY}
    assert out["summary"] == {"probed": len(RULES), "matched": len(RULES), "differed": 0}
    assert out["openmetadata"]["version"] == server.version and out["removed"] is True
    assert out["scratch_service"].startswith(selftest.PREFIX) and out["scratch_service"] in stderr
    assert catalog(server) == before  # the scratch service went with all it held; nothing else changed


def test_every_behaviour_matches_the_record_on_each_release_and_nothing_is_left(cli, profile, in_tmp):
    profile.reset()
    assert_passes(cli, profile)


def test_every_behaviour_matches_the_record_on_2_0(cli, sandbox, in_tmp):
    assert_passes(cli, sandbox)


# --- a behaviour switched on unannounced: that one difference, exit 1 ------------------------------------
@pytest.mark.parametrize(("key", "version"), SWITCHED, ids=[k for k, _ in SWITCHED])
def test_a_behaviour_switched_on_is_reported_as_the_difference(cli, in_tmp, key, version):
    assert not capabilities(version).has(key)
    with Sandbox(server_version=version, quirks=frozenset({key})) as server:
        before = catalog(server)
        code, out, _ = write_test(cli, server)
        assert code == 1
        [differed] = [b for b in out["behaviours"] if b["result"] == "differed"]
        assert (differed["key"], differed["expected"], differed["seen"]) == (key, False, True)
        assert out["summary"]["differed"] == 1 and out["removed"] is True
        assert catalog(server) == before


def test_the_text_report_names_the_difference_and_asks_for_the_json(cli, in_tmp):
    with Sandbox(server_version=NEWEST_PLAYED, quirks=frozenset({"if_match_drops_entity_fields"})) as server:
        result = cli("doctor", "--write-test", env=env_for(server))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    [differed] = [line for line in lines if line.startswith("DIFFERED")]
    assert differed.startswith("DIFFERED if_match_drops_entity_fields: the record says off for 1.9.0 to 1.13.1, "
                               "seen on - a PATCH of target alone")
    assert sum(line.startswith("matched ") for line in lines) == len(RULES) - 1
    assert "1 of 8 behaviours differ" in lines[-1] and "--format json" in lines[-1] and "removed" in lines[-1]


def test_the_json_names_no_host_and_no_token(cli, sandbox, in_tmp):
    result = cli("doctor", "--write-test", "--format", "json", env=env_for(sandbox))
    host, port = sandbox.server.server_address[:2]
    for secret in (env_for(sandbox)["OPENMETADATA_JWT_TOKEN"], f"{host}:{port}", "mlmeta-bot", socket.gethostname()):
        assert secret not in result.stdout


# --- permissions, and a clean-up that fails ------------------------------------------------------------------
def test_a_token_that_may_not_create_the_scratch_service_is_exit_2_naming_the_permissions(cli, sandbox, in_tmp):
    before = catalog(sandbox)
    result = cli("doctor", "--write-test", env=env_for(sandbox, "dana"))
    assert result.exit_code == 2
    assert "HTTP 403" in result.stderr and selftest.PERMISSIONS in result.stderr
    assert catalog(sandbox) == before


def test_a_scratch_service_that_cannot_be_removed_is_said_and_the_next_run_removes_it(cli, sandbox, in_tmp):
    before = catalog(sandbox)
    sandbox.set_faults(failure_rate=1.0, statuses=[503], methods=["DELETE"], path_pattern="mlmodelServices")
    code, out, stderr = write_test(cli, sandbox, "--deadline", "1")
    left = out["scratch_service"]
    assert code == 2 and out["removed"] is False and "next `mlmeta doctor --write-test` removes it" in \
        out["cleanup_problem"]
    assert f"{left} was NOT removed" in stderr
    assert scratch_services(sandbox) == [left] and scratch_models(sandbox)
    sandbox.clear_faults()
    code, out, _ = write_test(cli, sandbox)
    assert code == 0 and out["leftovers_removed"] == [left]
    assert catalog(sandbox) == before


def start(server: Sandbox, tmp_path) -> subprocess.Popen:
    """The self-test as a user runs it, slowed down (each request 150 ms late) so that it can be caught
    half-way: once the scratch service holds a model."""
    server.set_faults(latency_ms=150)
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "doctor", "--write-test", "--format", "json"],
                               cwd=tmp_path, env={**os.environ, **env_for(server)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: scratch_models(server) or process.poll() is not None)
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, process.communicate()
    return process


def decoys(server: Sandbox) -> None:
    """What a second run must leave alone: a user's service named like a scratch one, without the
    marker; the scratch service of a run still going on another machine; and one of a run going on
    in this very process (this test's own, as far as the marker can tell)."""
    mark = f"{selftest.MARKER} host={ANOTHER_HOST} pid=1 started={int(time.time() * 1000)}"
    with server.app.state.lock:
        server.app.state.add("mlmodelService", selftest.PREFIX + "team_models", {"serviceType": "CustomMlModel",
                                                                                  "description": "Ours."})
        server.app.state.add("mlmodelService", selftest.PREFIX + "elsewhere", {"serviceType": "CustomMlModel",
                                                                                "description": mark})
    selftest._ACTIVE.add(selftest.PREFIX + "here")
    with server.app.state.lock:
        server.app.state.add("mlmodelService", selftest.PREFIX + "here", {
            "serviceType": "CustomMlModel", "description": selftest.marker(int(time.time() * 1000))})


def test_killed_half_way_the_next_run_removes_the_leftover_and_touches_nothing_else(cli, sandbox, tmp_path, in_tmp):
    decoys(sandbox)
    try:
        before = catalog(sandbox)
        process = start(sandbox, tmp_path)
        process.kill()  # SIGKILL: no handler, no finally
        process.communicate()
        [left] = [name for name in scratch_services(sandbox) if name[len(selftest.PREFIX):] not in
                  ("team_models", "elsewhere", "here")]
        assert scratch_models(sandbox)  # left behind, half-way: models in it
        sandbox.clear_faults()
        code, out, _ = write_test(cli, sandbox)
        assert code == 0 and out["leftovers_removed"] == [left]
        assert catalog(sandbox) == before  # the leftover gone, the decoys and the seed catalog as they were
    finally:
        selftest._ACTIVE.discard(selftest.PREFIX + "here")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_burst_of_signals_half_way_stops_the_run_and_removes_its_scratch_service(sandbox, tmp_path, signum):
    before = catalog(sandbox)
    process = start(sandbox, tmp_path)
    for _ in range(5):
        process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr
    out = json.loads(stdout)
    assert out["interrupted"] == signal.Signals(signum).name and out["removed"] is True
    assert out["summary"]["probed"] < len(RULES)  # stopped half-way
    assert "Traceback" not in stderr
    assert catalog(sandbox) == before


def service(name: str = selftest.PREFIX + "0a1b2c3d", description: str | None = None, kind: str = "CustomMlModel"):
    return {"name": name, "serviceType": kind, "description": description}


def marked(host: str, pid: int, started_ms: int) -> str:
    return f"Scratch service. {selftest.MARKER} host={host} pid={pid} started={started_ms}"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


NOW = 10**13


@pytest.mark.parametrize(("candidate", "leftover"), [
    (service(description=marked(socket.gethostname(), dead_pid(), NOW)), True),  # its run was killed
    (service(description=marked(socket.gethostname(), os.getppid(), NOW)), False),  # its process still runs
    (service(description=marked(ANOTHER_HOST, 1, NOW)), False),  # another machine's, recent
    (service(description=marked(ANOTHER_HOST, 1, NOW - selftest.STALE_AFTER_MS - 1)), True),  # over an hour old
    (service(description="Our team's models."), False),  # the prefix alone
    (service("team_models", marked(socket.gethostname(), dead_pid(), NOW)), False),  # the marker alone
    (service(description=marked(socket.gethostname(), dead_pid(), NOW), kind="Mlflow"), False),
], ids=["killed", "running", "elsewhere", "stale", "no-marker", "no-prefix", "another-type"])
def test_a_leftover_is_a_marked_scratch_service_of_a_run_that_is_over(candidate, leftover):
    assert selftest.is_leftover(candidate, now_ms=NOW, host=socket.gethostname()) is leftover
