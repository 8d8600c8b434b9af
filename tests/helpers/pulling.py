"""A spec with comments and layout, published and then edited in the catalog as a person would: what the
pull tests start from."""

from __future__ import annotations

import json
import uuid

import requests

from tests.helpers.files import write

SPEC = """\
# yaml-language-server: $schema=../mlmeta.schema.json
# The delivery-time model. Owned by the ETA team; ask in #eta.
mlmeta: 1
name: {name}
service: mlflow_models  # where it is documented
description: Estimates how long an order takes to arrive.
mlflow:
  registered_model: {name}
features:
  # order age, bucketed
  - name: last_update_bucket
    type: categorical
    description: "Hours since the order's last update, in buckets."
    sources:
      - column: demo_pg.postgres.public.orders.last_update
  - name: is_premium
    type: categorical   # no description: the catalog's people own it
    sources:
      - column: demo_pg.postgres.public.users.premium
hyperparameters:
  n_estimators:
    description: Number of boosting stages.   # tuned weekly
"""


def publish_spec(cli, sandbox, mlflow_server, registry, folder, template: str):
    """A spec from ``template`` for a new model in Production, published: (name, path, env)."""
    name = f"pulled_{uuid.uuid4().hex[:8]}"
    path = write(folder / "model_specs" / f"{name}.yaml", template.format(name=name))
    registry.alias(name, registry.register(name))
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
           "MLFLOW_TRACKING_URI": mlflow_server.url}
    assert cli("publish", "--all", env=env).exit_code == 0
    return name, path, env


def edit_in_ui(sandbox, name: str, operations: list) -> None:
    model = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", timeout=10,
                         headers={"Authorization": f"Bearer {sandbox.token('admin')}"}).json()
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", json=operations, timeout=10, headers={
        "Authorization": f"Bearer {sandbox.token('admin')}", "Content-Type": "application/json-patch+json"}
                   ).raise_for_status()
