"""What the publish tests share with the rest: the delivery spec, the CLI's publish as (exit code,
JSON), and the sandbox's view of a model (its writes, its entity, its upstream edges)."""

from __future__ import annotations

import json

import requests

SPEC = """\
mlmeta: 1
name: {name}
service: mlflow_models
description: Estimates how long an order takes to arrive.
mlflow:
  registered_model: {registered}
target: expected_time
features:
  - name: last_update_bucket
    type: categorical
    algorithm: Bucketing
    sources:
      - column: demo_pg.postgres.public.orders.last_update
  - name: restaurant_dimension
    type: numerical
    algorithm: PCA
    sources:
      - table: demo_pg.postgres.public.restaurants
        column: rating
      - table: demo_pg.postgres.public.restaurants
        column: average_price
  - name: is_premium
    type: categorical
    sources:
      - column: demo_pg.postgres.public.users.premium
hyperparameters:
  n_estimators:
    description: Number of boosting stages.
"""
WRITES = ("PUT ", "POST ", "PATCH ", "DELETE ")



def publish(cli, env, *args):
    result = cli("publish", "--format", "json", *args, env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def writes(sandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.stats()["requests"].items() if k.startswith(WRITES)}


def entity(sandbox, name: str, user: str = "admin") -> dict:
    answer = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?fields=owners,tags,sourceHash",
                          headers={"Authorization": f"Bearer {sandbox.token(user)}"}, timeout=10)
    return answer.json()


def upstream(sandbox, name: str) -> dict[str, dict | None]:
    graph = requests.get(f"{sandbox.api_url}/v1/lineage/mlmodel/name/mlflow_models.{name}?upstreamDepth=1"
                         "&downstreamDepth=0", headers={"Authorization": f"Bearer {sandbox.token()}"}, timeout=10).json()
    names = {n["id"]: n["fullyQualifiedName"] for n in graph["nodes"]}
    return {names[e["fromEntity"]]: e.get("lineageDetails") for e in graph["upstreamEdges"]}
