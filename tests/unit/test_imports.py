"""Commands that need no server must not import the OpenMetadata SDK (5 s) or mlflow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.files import REPO

PROBE = """
import sys
from mlmeta.cli import app
try:
    app({args!r}, prog_name="mlmeta")
except SystemExit:
    pass
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"metadata", "mlflow", "git", "requests"}})
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["validate", "model_specs"], ["validate", "--help"],
                                  ["schema"], ["convert", "examples/openmetadata-demo/ml_model.yaml"],
                                  ["plan", "--help"], ["publish", "--help"], ["sandbox", "--help"], ["init", "--help"],
                                  ["watch", "--help"], ["webhook", "serve", "--help"], ["drift", "--help"],
                                  ["pull", "--help"]])
def test_offline_commands_stay_light(args):
    result = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", result.stdout + result.stderr
