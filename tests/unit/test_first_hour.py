"""The first hour of a new user, without the demo: help that reads right at 80 columns, library log lines
hidden unless verbose and always masked."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.helpers.files import REPO


@pytest.mark.parametrize("command", [[], ["publish"], ["validate"], ["sandbox"], ["init"]])
def test_help_reads_right_at_80_columns_in_a_plain_pipe(command):
    done = subprocess.run([sys.executable, "-m", "mlmeta", *command, "--help"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "80", "TERM": "dumb"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "<bool>" not in done.stdout and "\x1b[" not in done.stdout and "╭" not in done.stdout
    if command in (["publish"], ["validate"]):
        assert "[tool.mlmeta]" in done.stdout  # not swallowed as markup
        assert "OPENMETADATA_JWT_TOKEN[_FILE]" in done.stdout.replace("\n", "").replace(" ", "")


def test_library_log_lines_are_hidden_unless_verbose_and_always_masked(capsys, monkeypatch):
    from mlmeta import secrets
    from mlmeta.output import logs

    token = "eyJsecret.token.value-for-the-test"
    secrets.register(token)
    monkeypatch.delenv("MLMETA_DEBUG", raising=False)
    logs.configure(verbose=False)
    logging.getLogger("urllib3.connectionpool").warning("Retrying with %s", token)
    logging.getLogger("metadata.ingestion").warning("SDK says %s", token)
    logging.getLogger("mlmeta.http").warning("mlmeta's own warning with %s", token)
    err = capsys.readouterr().err
    assert "Retrying" not in err and "SDK says" not in err
    assert "mlmeta's own warning with ***" in err and token not in err
    logs.configure(verbose=True)
    logging.getLogger("urllib3.connectionpool").warning("Retrying with %s", token)
    err = capsys.readouterr().err
    assert "Retrying with ***" in err and token not in err
    logs.configure(verbose=False)
