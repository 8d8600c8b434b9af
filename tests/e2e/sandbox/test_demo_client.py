"""OpenMetadata's own ML-model demo client runs unchanged against the sandbox: with SDK 1.5 (the
release the demo targets, seed 004) in a throwaway venv against the sandbox playing 1.5, and with
the SDK 2.0 of the development environment against 2.0 - both with the quickstart's admin token,
as the demo script has it.

The client is ``bench/baseline_demo.py``: the demo's request pattern, written from its
description (``get_by_name`` of each source table, of the service, ``create_or_update``,
``add_mlmodel_lineage``), since the demo repository cannot be fetched here. The SDK's own
version check (``validate_versions``) runs as it does against a real server.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import requests

from mlmeta.standins.openmetadata import Sandbox, sdk_client
from mlmeta.standins.openmetadata.tokens import QUICKSTART_ADMIN
from tests.helpers.files import REPO
from tests.helpers.venvs import outer_pip_cache

CLIENTS = Path(__file__).parent / "clients"
SPEC = """\
name: demo_eta
service: mlflow_models
description: Estimates delivery times (the demo's model).
features:
  - name: last_update_bucket
    type: categorical
    sources:
      - column: demo_pg.postgres.public.orders.last_update
  - name: restaurant_rating
    type: numerical
    sources:
      - table: demo_pg.postgres.public.restaurants
        column: rating
"""
DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
    AuthProvider, OpenMetadataConnection)
from metadata.generated.schema.security.client.openMetadataJWTClientConfig import OpenMetadataJWTClientConfig
from metadata.ingestion.ometa.ometa_api import OpenMetadata
import baseline_demo

client = OpenMetadata(OpenMetadataConnection(hostPort=sys.argv[1], authProvider=AuthProvider.openmetadata,
                                             securityConfig=OpenMetadataJWTClientConfig(jwtToken=sys.argv[2])))
baseline_demo.publish_all(client, [Path(sys.argv[4])])
print(json.dumps({"client": client.client_version if hasattr(client, "client_version") else "",
                  "server": client.get_server_version()}))
"""


def client_venv(release: str) -> Path:
    """A venv with OpenMetadata's client of ``release`` (pinned, --no-deps), cached by its pins."""
    pins = CLIENTS / f"openmetadata-{release}.txt"
    digest = hashlib.sha256(pins.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("MLMETA_CACHE") or Path.home() / ".cache" / "mlmeta")
    target = cache / "clients" / f"openmetadata-{release}-{digest}"
    if (target / ".complete").exists():
        return target
    venv.create(target, with_pip=True, clear=True)
    env = {**os.environ, "PIP_CACHE_DIR": outer_pip_cache(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-compile", "-r", str(pins)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (target / ".complete").touch()
    return target


def published(server: Sandbox) -> tuple[dict, dict]:
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    model = requests.get(f"{server.api_url}/v1/mlmodels/name/mlflow_models.demo_eta", headers=headers, timeout=10)
    graph = requests.get(f"{server.api_url}/v1/lineage/mlmodel/name/mlflow_models.demo_eta?upstreamDepth=1",
                         headers=headers, timeout=10)
    return model.json(), graph.json()


def assert_the_demo_model_is_there(server: Sandbox) -> None:
    model, graph = published(server)
    assert model["updatedBy"] == "admin" and model["algorithm"] == "GradientBoostingRegressor"
    assert [f["name"] for f in model["mlFeatures"]] == ["last_update_bucket", "restaurant_rating"]
    sources = {n["fullyQualifiedName"] for n in graph["nodes"]}
    assert sources == {"demo_pg.postgres.public.orders", "demo_pg.postgres.public.restaurants"}
@pytest.mark.timeout(1200)
def test_the_demo_client_with_sdk_1_5_against_the_sandbox_playing_1_5(tmp_path):
    python = client_venv("1.5") / "bin" / "python"
    spec = tmp_path / "ml_model.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    with Sandbox(server_version="1.5.15") as server:
        done = subprocess.run([str(python), "-c", DRIVER, server.api_url, QUICKSTART_ADMIN, str(REPO / "bench"),
                               str(spec)], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": ""})
        assert done.returncode == 0, done.stderr[-4000:]
        assert json.loads(done.stdout.strip().splitlines()[-1])["server"] == "1.5.15"
        assert_the_demo_model_is_there(server)
        calls = server.stats()["requests"]
        assert calls["PUT /v1/mlmodels"] == 1 and calls["PUT /v1/lineage"] >= 2


def test_the_demo_client_with_sdk_2_0_against_the_sandbox_playing_2_0(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import baseline_demo
    finally:
        sys.path.remove(str(REPO / "bench"))
    spec = tmp_path / "ml_model.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    with Sandbox(server_version="2.0.7") as server:
        baseline_demo.publish_all(sdk_client(server.api_url, QUICKSTART_ADMIN), [spec])
        assert_the_demo_model_is_there(server)
