"""The first hour of a new user: help that reads right, quiet libraries, a demo that tells
mlmeta's story and can leave its servers up for the walkthrough."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import REPO


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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_demo_tells_mlmetas_story_and_keeps_its_servers_on_request(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mlmeta.demo", "--keep"], cwd=REPO, capture_output=True, text=True,
                          timeout=280)
    try:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        out = done.stdout
        assert "INFO mlflow" not in out + done.stderr and "View run" not in out and "pickle" not in out
        assert out.count("OpenMetadata request") == 3  # once per plan/publish summary line, never repeated
        assert "[created] (version 0.1)" in out and "[unchanged] (version 0.1)" in out
        assert "of those requests, writes: 0" in out and "Demo finished:" in out
        export = next(line for line in out.splitlines() if "export MLFLOW_TRACKING_URI=" in line)
        values = dict(part.split("=", 1) for part in export.split()[1:])
        with urllib.request.urlopen(values["MLFLOW_TRACKING_URI"] + "/health", timeout=5) as answer:
            assert answer.read().strip() == b"OK"  # still up after the demo ended
        with urllib.request.urlopen(values["OPENMETADATA_HOST"] + "/api/v1/system/version", timeout=5) as answer:
            assert "version" in json.load(answer)
    finally:
        stop = subprocess.run([sys.executable, "-m", "mlmeta.demo", "--stop"], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
    assert "stopped the demo's servers" in stop.stdout
