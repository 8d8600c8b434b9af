"""The files the sandbox writes are private and never written through a symlink.

Its ``--state`` file holds the secret that signs every token it issues: whoever reads it can
forge the admin's token. Before issue 30 it was created 0644, through a temporary file of a
fixed name (``state.json.tmp``) that was followed if it was a symlink; the token files were
written through whatever symlink stood in their place.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

from mlmeta.errors import ConfigError
from mlmeta.standins.openmetadata import Sandbox
from tests.helpers.files import REPO

MODEL = {"name": "kept", "service": "mlflow_models", "algorithm": "GradientBoosting"}
VICTIM_TEXT = "someone else's file\n"


@pytest.fixture(autouse=True)
def usual_umask():
    """The umask most users have (022): a file created without care is then readable by all."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def victim(tmp_path: Path) -> Path:
    target = tmp_path / "victim.txt"
    target.write_text(VICTIM_TEXT, encoding="utf-8")
    target.chmod(0o644)
    return target


def publish(sandbox: Sandbox) -> None:
    """One write through the API: the sandbox saves its state after it."""
    answer = requests.put(f"{sandbox.api_url}/v1/mlmodels", json=MODEL, timeout=10,
                          headers={"Authorization": f"Bearer {sandbox.token('mlmeta-bot')}"})
    assert answer.status_code == 201, answer.text


def test_the_state_file_is_private_in_a_private_folder(tmp_path):
    state = tmp_path / "sandbox" / "state.json"
    with Sandbox(state_file=state) as sandbox:
        publish(sandbox)
        secret = sandbox.app.state.secret
    assert json.loads(state.read_text())["secret"] == secret  # what forges tokens...
    assert mode(state) == 0o600  # ...readable by its owner alone
    assert mode(state.parent) == 0o700


def test_a_state_file_left_readable_by_others_is_tightened_when_the_sandbox_starts(tmp_path):
    state = tmp_path / "state.json"
    with Sandbox(state_file=state) as sandbox:
        publish(sandbox)
    state.chmod(0o644)  # as an older mlmeta left it
    with Sandbox(state_file=state):
        assert mode(state) == 0o600  # before any write


def test_the_state_is_not_written_through_a_symlink_planted_at_a_temporary_name(tmp_path):
    state, target = tmp_path / "state.json", victim(tmp_path)
    (tmp_path / "state.json.tmp").symlink_to(target)  # the name the sandbox used to write first
    with Sandbox(state_file=state) as sandbox:
        publish(sandbox)
    assert target.read_text() == VICTIM_TEXT and mode(target) == 0o644
    assert stat.S_ISREG(os.lstat(state).st_mode)
    assert "kept" in json.dumps(json.loads(state.read_text())["entities"]["mlmodel"])


def test_a_symlink_in_place_of_the_state_file_is_refused_not_followed(tmp_path):
    planted = tmp_path / "planted.json"  # a state whose secret someone else knows
    with Sandbox(state_file=planted, secret="known to someone else, long enough") as sandbox:
        publish(sandbox)
    state = tmp_path / "state.json"
    state.symlink_to(planted)
    with pytest.raises(ConfigError, match="symbolic link"):
        Sandbox(state_file=state)


@pytest.mark.parametrize("content", ["{not json", "[]"])
def test_a_state_file_that_is_not_one_is_a_usage_error(cli, tmp_path, content):
    state = tmp_path / "state.json"
    state.write_text(content, encoding="utf-8")
    result = cli("sandbox", "--port", "0", "--state", str(state), "--token-file", str(tmp_path / "t" / "tokens.json"))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"mlmeta sandbox: error: --state: cannot use {state}:")


def test_token_files_are_private_and_never_written_through_a_symlink(sandbox, tmp_path):
    folder, target = tmp_path / "tokens", victim(tmp_path)
    folder.mkdir(mode=0o700)
    (folder / "mlmeta-bot.jwt").symlink_to(target)
    written = sandbox.write_tokens(folder / "tokens.json")
    assert target.read_text() == VICTIM_TEXT and mode(target) == 0o644
    for path in [folder / "tokens.json", *written.values()]:
        assert stat.S_ISREG(os.lstat(path).st_mode) and mode(path) == 0o600, path
    token = written["mlmeta-bot"].read_text().strip()
    assert jwt.decode(token, sandbox.app.state.secret, algorithms=["HS256"])["sub"] == "mlmeta-bot"


def test_a_folder_made_for_the_tokens_is_private(sandbox, tmp_path):
    sandbox.write_tokens(tmp_path / "made" / "tokens.json")
    assert mode(tmp_path / "made") == 0o700


def test_a_token_file_that_cannot_be_written_is_a_usage_error(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = cli("sandbox", "--port", "0", "--token-file", str(blocker / "tokens.json"))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"mlmeta sandbox: error: --token-file: cannot write {blocker / 'tokens.json'}: ")
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_the_cli_writes_its_ready_file_whole_and_not_through_a_symlink(tmp_path):
    ready, target = tmp_path / "ready.json", victim(tmp_path)
    ready.symlink_to(target)
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "sandbox", "--port", "0", "--ready-file", str(ready),
                                "--token-file", str(tmp_path / "tokens" / "tokens.json")],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while ready.is_symlink() and time.time() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert not ready.is_symlink(), "the ready file was written through the symlink"
        assert json.loads(ready.read_text())["url"].startswith("http://127.0.0.1:")
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert target.read_text() == VICTIM_TEXT
    assert process.returncode == 0, err
