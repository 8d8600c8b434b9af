"""The Kubeflow example (examples/kubeflow/run_example.py) runs end to end as a user runs it, on local
stand-ins: train, mark Production, publish, re-publish writing nothing, follow the next promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers.files import REPO

EXAMPLE = REPO / "examples" / "kubeflow"


def test_the_example_runs_end_to_end():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(EXAMPLE / "run_example.py"), "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["publish"]["summary"]["created"] == 1 and result["republish_writes"] == 0
    [event] = result["events"]
    assert event["data"]["version"] == "v2" and event["data"]["registry"] == "kubeflow"
