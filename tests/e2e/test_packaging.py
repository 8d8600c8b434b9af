"""The release's files, installed as a user installs them: ``python -m build`` makes the sdist and
the wheel (the wheel from the sdist, so the sdist is complete), ``twine check`` accepts both, and
each installs with plain ``pip install`` - no constraints file - into a fresh virtual environment,
from the package index alone, bringing no OpenMetadata SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
import requests

from tests.helpers.files import REPO
from tests.helpers.venvs import outer_pip_cache


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", str(folder), str(REPO), timeout=600)
    return folder


@pytest.fixture(scope="module")
def wheel(dist):
    [built] = dist.glob("mlmeta-*.whl")
    return built


def test_twine_accepts_the_sdist_and_the_wheel(dist):
    from mlmeta import __version__
    built = sorted(p.name for p in dist.iterdir())
    assert built == [f"mlmeta-{__version__}-py3-none-any.whl", f"mlmeta-{__version__}.tar.gz"]
    checked = run(sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir())), timeout=120)
    assert checked.stdout.count("PASSED") == 2
@pytest.mark.timeout(900)
def test_the_sdist_installs_and_says_its_version(dist, tmp_path):
    from mlmeta import __version__
    [sdist] = dist.glob("mlmeta-*.tar.gz")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    env = {**os.environ, "PIP_CACHE_DIR": outer_pip_cache(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_CONSTRAINT", None)
    env.pop("PYTHONPATH", None)
    run(str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(sdist), env=env, timeout=840)
    assert run(str(env_dir / "bin" / "mlmeta"), "--version", env=env, timeout=60).stdout.strip().endswith(__version__)
@pytest.mark.timeout(900)
def test_the_wheel_installs_with_plain_pip_and_without_the_sdk(wheel, tmp_path):
    from mlmeta import __version__
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    env = {**os.environ, "PIP_CACHE_DIR": outer_pip_cache(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_CONSTRAINT", None)
    env.pop("PYTHONPATH", None)
    run(python, "-m", "pip", "install", "--quiet", str(wheel), env=env, timeout=840)

    version = run(str(env_dir / "bin" / "mlmeta"), "--version", env=env, timeout=60).stdout
    assert __version__ in version
    installed = json.loads(run(python, "-m", "pip", "list", "--format", "json", env=env, timeout=60).stdout)
    names = {package["name"].lower() for package in installed}
    assert "openmetadata-ingestion" not in names and "mlmeta" in names
    assert len(names) <= 60, sorted(names)
    # what a user does first works from this install alone
    spec = tmp_path / "model_specs" / "churn.yaml"
    spec.parent.mkdir()
    spec.write_text("mlmeta: 1\nname: churn\nservice: ml_models\nfeatures:\n  - name: tenure\n    type: numerical\n"
                    "    sources:\n      - column: svc.db.public.users.tenure\n", encoding="utf-8")
    checked = subprocess.run([str(env_dir / "bin" / "mlmeta"), "validate", "--format", "json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert_sandbox_serves(env_dir / "bin" / "mlmeta", tmp_path, env)


def assert_sandbox_serves(mlmeta: Path, work: Path, env: dict[str, str]) -> None:
    """The sandbox, from the plain install: it fetches its release's schemas itself (no SDK)."""
    ready = work / "ready.json"
    server = subprocess.Popen([str(mlmeta), "sandbox", "--port", "0", "--ready-file", str(ready),
                               "--token-file", str(work / "tokens" / "tokens.json")], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.exists(), server.communicate(timeout=10)
        info = json.loads(ready.read_text())
        token = (work / "tokens" / "mlmeta-bot.jwt").read_text().strip()
        assert requests.get(info["api_url"] + "/v1/system/version", timeout=10).json()["version"] == "2.0.7"
        table = requests.get(info["api_url"] + "/v1/tables/name/demo_pg.postgres.public.users",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert table.status_code == 200, table.text
    finally:
        server.terminate()
        server.communicate(timeout=30)
