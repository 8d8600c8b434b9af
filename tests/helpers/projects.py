"""A project for the trigger tests: specs whose registered models exist in MLflow, and the environment mlmeta reads."""

from __future__ import annotations

import uuid

from tests.helpers.files import write
from tests.helpers.publishing import SPEC


def make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, prefix: str, count: int) -> list[str]:
    """``count`` specs (one registered model each, version 1 registered, nothing promoted) and the
    environment mlmeta reads."""
    names = [f"{prefix}_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for name in names:
        write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
        registry.register(name)
    for key, value in {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
                       "MLFLOW_TRACKING_URI": mlflow_server.url}.items():
        monkeypatch.setenv(key, value)
    return names
