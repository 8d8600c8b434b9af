"""The documentation's "Adopting mlmeta in an afternoon" (docs/getting-started.md), run as written:
its ``bash`` blocks, in order, in one shell, in an empty folder - a fresh virtual environment
installed from this checkout, a real MLflow server and the sandbox in the background. If the
documentation stops telling the truth, this fails.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from mlmeta.demo.services import free_port
from tests.helpers.files import REPO
from tests.helpers.venvs import outer_pip_cache

RUNS_LONGEST = True  # minutes of installing and training: tests/conftest.py schedules it first
SECTION = re.compile(r"^## Adopting mlmeta in an afternoon\n(.*?)^\*\*9\. Let CI do it", re.S | re.M)

BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def walkthrough_script() -> str:
    section = SECTION.search((REPO / "docs" / "getting-started.md").read_text(encoding="utf-8"))
    assert section, "the documentation lost its walkthrough section"
    blocks = BASH_BLOCK.findall(section.group(1))
    assert len(blocks) >= 8
    # stop the background servers whatever happens; fail on the first failing command
    return "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + "\n".join(blocks)


@pytest.mark.timeout(900)
def test_the_readme_walkthrough_runs_as_written(tmp_path):
    env = {**os.environ, "MLMETA_SRC": str(REPO), "MLFLOW_PORT": str(free_port()), "OM_PORT": str(free_port()),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_CACHE_DIR": outer_pip_cache(),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "GIT_AUTHOR_NAME": "walkthrough", "GIT_AUTHOR_EMAIL": "w@example.com",
           "GIT_COMMITTER_NAME": "walkthrough", "GIT_COMMITTER_EMAIL": "w@example.com"}
    for variable in ("VIRTUAL_ENV", "OPENMETADATA_HOST", "OPENMETADATA_JWT_TOKEN", "MLFLOW_TRACKING_URI",
                     "PYTHONPATH"):
        env.pop(variable, None)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(REPO)))
    done = subprocess.run(["bash", "-c", walkthrough_script()], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=840)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "error S001 unknown key 'desciption'; did you mean 'description'?" in out
    # no source written by hand: init found each feature's column in the tables the run logged
    assert "every feature's source was found in the catalog" in done.stderr
    spec = yaml.safe_load((tmp_path / "churn-project" / "model_specs" / "churn_eta.yaml").read_text())
    assert [s for f in spec["features"] for s in f["sources"]] == [
        {"table": "demo_pg.postgres.public.orders", "column": "last_update"},
        {"table": "demo_pg.postgres.public.restaurants", "column": "rating"},
        {"table": "demo_pg.postgres.public.restaurants", "column": "average_price"},
        {"table": "demo_pg.postgres.public.users", "column": "premium"}]
    assert spec["algorithm"] == "GradientBoostingRegressor"
    assert "[create]" in out and "[created] (version 0.1)" in out and "[unchanged] (version 0.1)" in out
    assert "[updated] (version 0.1 -> 0.2)" in out
    assert "Document churn_eta with mlmeta" in out
    token = (tmp_path / "cache" / "mlmeta" / "sandbox" / "mlmeta-bot.jwt").read_text().strip()
    assert token not in out + done.stderr
