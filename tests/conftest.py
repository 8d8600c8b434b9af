"""Shared fixtures. Servers (MLflow, the sandbox) are started by fixtures in the test packages
that need them; everything here is cheap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def cli(monkeypatch):
    """Run mlmeta in-process: ``cli("validate", "x.yaml")`` -> result with exit_code, stdout, stderr."""
    from mlmeta.cli import app

    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Work in an empty folder without any project file above it mattering."""
    monkeypatch.chdir(tmp_path)
    for var in ("OPENMETADATA_HOST", "OPENMETADATA_JWT_TOKEN", "OPENMETADATA_JWT_TOKEN_FILE", "MLFLOW_TRACKING_URI",
                "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD_SPEC = """\
mlmeta: 1
name: churn
features:
  - name: tenure
    type: numerical
    sources:
      - column: svc.db.public.users.tenure
"""

os.environ.setdefault("MLMETA_TESTING", "1")


# --- the OpenMetadata sandbox, shared by the whole session (the SDK import costs seconds) ------------


@pytest.fixture(scope="session")
def sandbox_server():
    from mlmeta.sandbox import Sandbox

    with Sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox, back at the seed catalog with no faults and zero counters."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


def sdk_client(api_url: str, token: str, **client_config):
    """An official SDK client; ``client_config`` goes to its REST ClientConfig (retry=0 ...)."""
    from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
        AuthProvider,
        OpenMetadataConnection,
    )
    from metadata.generated.schema.security.client.openMetadataJWTClientConfig import OpenMetadataJWTClientConfig
    from metadata.ingestion.ometa.ometa_api import OpenMetadata

    connection = OpenMetadataConnection(hostPort=api_url, authProvider=AuthProvider.openmetadata,
                                        securityConfig=OpenMetadataJWTClientConfig(jwtToken=token))
    return OpenMetadata(connection, additional_client_config_arguments=client_config or None)


@pytest.fixture
def om(sandbox):
    """``om("admin")`` -> an SDK client acting as that user (default: the mlmeta-bot bot)."""

    def client(user: str = "mlmeta-bot", **client_config):
        return sdk_client(sandbox.api_url, sandbox.token(user), **client_config)

    return client
