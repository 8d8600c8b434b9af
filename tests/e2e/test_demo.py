"""The first hour of a new user: a demo that tells mlmeta's story and can leave its servers up for the
walkthrough (help and quiet libraries: tests/unit/test_first_hour.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.helpers.files import REPO


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
