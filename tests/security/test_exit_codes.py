"""Exit codes that are true (issue 30, point 8).

Exit 3 says "a bug in mlmeta". A server failing after every retry, or a folder mlmeta may not
write, is nothing of the kind: commands stop with exit 2 and the message names the cause and the
fix; ``doctor`` reports it as that check's problem (exit 1, like every problem it finds) and runs
the other checks; a long-running ``watch`` treats a failing registry as a server that is down.
The servers here are mlmeta's misbehaving peers (``mlmeta.demo.peers``), on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from mlmeta.config import load_settings
from mlmeta.demo.peers import web_server
from mlmeta.events.sinks import Emitter
from mlmeta.triggers.watch import Watcher, WatchOptions
from tests.helpers.files import write
from tests.helpers.publishing import SPEC

FAILING = b'{"code": 500, "message": "the database is down"}'
AT_ONCE = {"Retry-After": "0"}  # mlmeta retries a failing server 8 times: without waiting, here
NOWHERE = "http://127.0.0.1:9"


def test_doctor_against_a_catalog_answering_500_reports_it_with_its_fix_and_runs_the_other_checks(cli, in_tmp):
    with web_server(500, FAILING, "application/json", AT_ONCE) as url:
        result = cli("doctor", "--format", "json", env={"OPENMETADATA_HOST": url, "OPENMETADATA_JWT_TOKEN": "t"})
    assert result.exit_code == 1, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    catalog = checks["OpenMetadata"]
    assert catalog["status"] == "problem"
    assert "/api kept failing: HTTP 500 (the database is down) (8 attempts)" in catalog["detail"]
    assert "rerun when it is healthy" in catalog["fix"]
    assert checks["MLflow"]["status"] == "problem" and checks["spec folders"]["status"] == "problem"  # still ran


def test_a_command_against_a_catalog_answering_500_exits_2_naming_the_server_and_the_fix(cli, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", SPEC.format(name="m", registered="m"))
    with web_server(500, FAILING, "application/json", AT_ONCE) as url:
        result = cli("publish", "--all", env={"OPENMETADATA_HOST": url, "OPENMETADATA_JWT_TOKEN": "t",
                                              "MLFLOW_TRACKING_URI": NOWHERE})
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlmeta publish: error: OpenMetadata at {url}/api kept failing: HTTP 500 (the database is down) (8 attempts)",
        "  hint: the server is failing (its logs say why); rerun when it is healthy, -v shows every retry"]


# --- watch: its checkpoint's folder ----------------------------------------------------------------


def watch_once(cli, checkpoint: Path):
    """``watch --once`` with this checkpoint, from a project with a spec folder (a missing one is said first)."""
    write(Path.cwd() / "model_specs" / "m.yaml", SPEC.format(name="m", registered="m"))
    return cli("watch", "--once", "--checkpoint", str(checkpoint),
               env={"OPENMETADATA_HOST": NOWHERE, "OPENMETADATA_JWT_TOKEN": "t", "MLFLOW_TRACKING_URI": NOWHERE})


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A folder this user may not create files in: a read-only folder, or, for root (who may write
    anywhere on a disk), a folder of the kernel's sysfs, where nobody may create a file."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    yield folder
    folder.chmod(0o700)


def test_watch_with_its_checkpoint_folder_being_a_file_exits_2_naming_it(cli, in_tmp):
    write(in_tmp / "state", "not a folder\n")
    result = watch_once(cli, in_tmp / "state" / "checkpoint.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlmeta watch: error: --checkpoint {in_tmp}/state/checkpoint.json: its folder {in_tmp}/state cannot be made: "
        f"{in_tmp}/state is a file",
        "  hint: move it away, or choose another place with --checkpoint"]


def test_watch_with_a_checkpoint_folder_it_may_not_write_exits_2_naming_it(cli, in_tmp, unwritable):
    result = watch_once(cli, unwritable / "checkpoint.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlmeta watch: error: --checkpoint {unwritable}/checkpoint.json: mlmeta may not write in {unwritable} "
        "(Permission denied)",
        "  hint: let this user write there, or choose another place with --checkpoint"]


def test_watch_with_a_checkpoint_that_is_a_folder_exits_2_before_asking_any_server(cli, in_tmp):
    (in_tmp / "checkpoint.json").mkdir()
    result = watch_once(cli, in_tmp / "checkpoint.json")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"mlmeta watch: error: --checkpoint {in_tmp}/checkpoint.json: is a folder, not a file",
        f"  hint: name a file, e.g. --checkpoint {in_tmp}/checkpoint.json/watch-checkpoint.json"]


def test_watch_with_its_lock_being_a_symlink_loop_exits_2_naming_it(cli, in_tmp):
    os.symlink("checkpoint.json.lock", in_tmp / "checkpoint.json.lock")  # a link to itself
    result = watch_once(cli, in_tmp / "checkpoint.json")
    assert result.exit_code == 2
    assert f"{in_tmp}/checkpoint.json.lock is a symlink, and mlmeta never writes through one" in result.stderr
    assert "internal error" not in result.stderr


# --- watch: a registry that keeps failing ---------------------------------------------------------------


def test_watch_once_against_a_registry_answering_500_exits_2(cli, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", SPEC.format(name="m", registered="m"))
    with web_server(500, b'{"error_code": "INTERNAL_ERROR", "message": "boom"}', "application/json",
                    AT_ONCE) as url:
        result = cli("watch", "--once", "--checkpoint", str(in_tmp / "cp.json"),
                     env={"OPENMETADATA_HOST": NOWHERE, "OPENMETADATA_JWT_TOKEN": "t", "MLFLOW_TRACKING_URI": url})
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"mlmeta watch: error: MLflow at {url}: MLflow kept failing: HTTP 500")
    assert "rerun when it is healthy" in result.stderr and "internal error" not in result.stderr


def test_a_running_watch_rides_out_a_registry_answering_500_instead_of_dying(in_tmp, monkeypatch, tmp_path):
    write(in_tmp / "model_specs" / "m.yaml", SPEC.format(name="m", registered="m"))
    said: list[str] = []
    heard = threading.Event()

    def progress(line: str) -> None:
        said.append(line)
        heard.set()

    with web_server(500, b'{"error_code": "INTERNAL_ERROR", "message": "boom"}', "application/json",
                    AT_ONCE) as url:
        for key, value in {"OPENMETADATA_HOST": NOWHERE, "OPENMETADATA_JWT_TOKEN": "t",
                           "MLFLOW_TRACKING_URI": url}.items():
            monkeypatch.setenv(key, value)
        watch = Watcher(load_settings(), WatchOptions(checkpoint=tmp_path / "cp.json", interval=0.2, max_backoff=1),
                        Emitter([], tmp_path / "spool.jsonl"), progress)
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(watch.run()))
        thread.start()
        try:
            assert heard.wait(60), "the watcher said nothing"
        finally:
            watch.stop()
            thread.join(30)
    assert outcome == [0]  # stopped when asked, not crashed
    assert said[0].startswith(f"watch: MLflow at {url}: MLflow kept failing: HTTP 500") and "probing every" in said[0]
