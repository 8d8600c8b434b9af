"""Shared by the trigger tests: a project with specs whose registered models exist in MLflow."""

from __future__ import annotations

import pytest

from tests.helpers.projects import make_project


@pytest.fixture
def project_factory(in_tmp, registry, sandbox, mlflow_server, monkeypatch):
    return lambda prefix, count: make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, prefix, count)
