"""Exit codes that are true (the issue's point 8): a state folder ``webhook serve`` cannot use - a
folder where its journal or its delivery ids go, a symlink planted as its lock, a folder below a
file - stops it at start with exit 2 and a message naming the path and the fix; never exit 3 ("a bug
in mlmeta"), never a traceback, and nothing written through the symlink."""

from __future__ import annotations

import os

import pytest

from tests.helpers.webhooks import SECRET

ENV = {"MLMETA_WEBHOOK_SECRET": SECRET, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
       "OPENMETADATA_HOST": "http://127.0.0.1:9/api"}


def serve(cli, *args: str):
    return cli("webhook", "serve", "--port", "0", *args, env=ENV)


@pytest.mark.parametrize("planted", ["webhook-journal.jsonl", "webhook-deliveries.jsonl"])
def test_a_folder_where_a_state_file_goes_is_exit_2_naming_it(cli, in_tmp, planted):
    (in_tmp / "state" / planted).mkdir(parents=True)
    result = serve(cli, "--state-dir", str(in_tmp / "state"))
    assert result.exit_code == 2, result.stderr
    assert f"--state-dir: {in_tmp / 'state' / planted} cannot be used" in result.stderr
    assert "hint: something else stands where mlmeta keeps its state" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_symlink_planted_as_the_lock_is_exit_2_and_not_followed(cli, in_tmp):
    target = in_tmp / "precious.txt"
    target.write_text("not mlmeta's\n")
    (in_tmp / "state").mkdir()
    os.symlink(target, in_tmp / "state" / "webhook.lock")
    result = serve(cli, "--state-dir", str(in_tmp / "state"))
    assert result.exit_code == 2, result.stderr
    assert f"--state-dir: {in_tmp / 'state' / 'webhook.lock'} cannot be used" in result.stderr
    assert "hint: a symbolic link stands there; mlmeta follows none in its state folder: remove it" in result.stderr
    assert target.read_text() == "not mlmeta's\n"


def test_a_state_folder_below_a_file_is_exit_2_naming_it(cli, in_tmp):
    (in_tmp / "a-file").write_text("")
    result = serve(cli, "--state-dir", str(in_tmp / "a-file" / "state"))
    assert result.exit_code == 2, result.stderr
    assert f"--state-dir: {in_tmp / 'a-file' / 'state'} cannot be written" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.stderr


def test_a_ready_file_that_cannot_be_written_is_exit_2_naming_it(cli, in_tmp):
    result = serve(cli, "--state-dir", str(in_tmp / "state"), "--ready-file", str(in_tmp / "missing" / "ready.json"),
                   "--reconcile-interval", "0")
    assert result.exit_code == 2, result.stderr
    assert f"--ready-file: {in_tmp / 'missing' / 'ready.json'} cannot be written" in result.stderr
