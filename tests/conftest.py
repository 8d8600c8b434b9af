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
