"""Provenance as custom properties: the definitions (``mlmeta setup``), the values publish writes,
end to end against the sandbox's types API (checked against the server's TypeRepository)."""

from __future__ import annotations

import json

import requests

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, entity, publish, writes


def mlmodel_type(sandbox) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/metadata/types/name/mlmodel?fields=customProperties",
                        headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()


def extension_of(sandbox, name: str) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?fields=extension",
                        headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json().get(
        "extension") or {}


def test_setup_defines_the_properties_once(cli, env, sandbox):
    first = cli("setup", "--format", "json", env=env)
    assert first.exit_code == 0, first.stdout
    assert json.loads(first.stdout)["summary"] == {"created": 10, "exists": 0, "conflict": 0, "unavailable": 0,
                                                   "failed": 0}
    defined = {p["name"]: p["propertyType"]["name"] for p in mlmodel_type(sandbox)["customProperties"]}
    assert defined["mlflowVersion"] == "integer" and defined["mlflowMetrics"] == "table-cp"
    sandbox.reset_stats()
    again = cli("setup", env=env)
    assert again.exit_code == 0 and "setup: created 0, 10 already defined, 0 conflicts" in again.stdout
    assert writes(sandbox) == {}


def test_setup_reports_a_property_of_another_type_and_leaves_it(cli, env, sandbox):
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    markdown = requests.get(f"{sandbox.api_url}/v1/metadata/types/name/markdown", headers=admin, timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/metadata/types/{mlmodel_type(sandbox)['id']}", headers=admin, timeout=10,
                 json={"name": "mlflowRunId", "description": "ours", "propertyType": {"id": markdown["id"],
                                                                                     "type": "type"}}
                 ).raise_for_status()
    result = cli("setup", env=env)
    assert result.exit_code == 1
    assert "! mlmodel.mlflowRunId (string) conflict: already defined as 'markdown'" in result.stdout
    defined = {p["name"]: p["propertyType"]["name"] for p in mlmodel_type(sandbox)["customProperties"]}
    assert defined["mlflowRunId"] == "markdown" and defined["mlflowAlias"] == "string"


def test_publish_writes_the_provenance_once_the_properties_exist(cli, env, sandbox, registry, in_tmp):
    name = "provenance_model"
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    registry.alias(name, registry.register(name))
    code, _ = publish(cli, env, "--all")
    assert code == 0 and extension_of(sandbox, name) == {}  # not set up: nothing written there
    # someone else's property of the model survives every publish
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    string = requests.get(f"{sandbox.api_url}/v1/metadata/types/name/string", headers=admin, timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/metadata/types/{mlmodel_type(sandbox)['id']}", headers=admin, timeout=10,
                 json={"name": "costCenter", "description": "finance", "propertyType": {"id": string["id"],
                                                                                        "type": "type"}})
    stored = entity(sandbox, name)
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{stored['id']}", timeout=10, data=json.dumps(
        [{"op": "add", "path": "/extension", "value": {"costCenter": "42"}}]),
        headers={**admin, "Content-Type": "application/json-patch+json"}).raise_for_status()

    # with --create-properties, the same publish defines them and fills them in
    plan = cli("plan", "model_specs", env=env)
    assert "custom propert" not in plan.stdout  # a plan never defines anything
    code, out = publish(cli, env, "--all", "--create-properties")
    assert code == 0 and out["summary"]["updated"] == 1, out
    assert {p["status"] for p in out["properties"]} == {"created"}
    extension = extension_of(sandbox, name)
    assert extension["costCenter"] == "42"
    assert (extension["mlflowRegisteredModel"], extension["mlflowVersion"], extension["mlflowAlias"]) == (
        name, 1, "champion")
    assert extension["mlflowRunId"] and {r["metric"] for r in extension["mlflowMetrics"]["rows"]} >= {"rmse"}
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert out["summary"]["unchanged"] == 1 and writes(sandbox) == {}

    # a promotion moves the values; the plan says so
    registry.alias(name, registry.register(name))
    plan = cli("plan", "model_specs", env=env)
    assert "custom property mlflowAlias" not in plan.stdout
    assert "~ custom property mlflowVersion: 1 -> 2" in plan.stdout, plan.stdout
    publish(cli, env, "--all")
    assert extension_of(sandbox, name)["mlflowVersion"] == 2


def test_the_server_refuses_unknown_or_mistyped_properties(sandbox):
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    request = {"name": "typed", "service": "mlflow_models", "extension": {"nope": "x"}}
    answer = requests.put(f"{sandbox.api_url}/v1/mlmodels", headers=admin, json=request, timeout=10)
    assert (answer.status_code, answer.json()["message"]) == (400, "Unknown custom field nope")
    integer = requests.get(f"{sandbox.api_url}/v1/metadata/types/name/integer", headers=admin, timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/metadata/types/{mlmodel_type(sandbox)['id']}", headers=admin, timeout=10,
                 json={"name": "count", "description": "a count", "propertyType": {"id": integer["id"], "type": "type"}}
                 ).raise_for_status()
    request["extension"] = {"count": "seven"}
    answer = requests.put(f"{sandbox.api_url}/v1/mlmodels", headers=admin, json=request, timeout=10)
    assert answer.status_code == 400 and answer.json()["message"].startswith("Custom field count has invalid JSON")
    request["extension"] = {"count": 7}
    assert requests.put(f"{sandbox.api_url}/v1/mlmodels", headers=admin, json=request, timeout=10).status_code == 201
    # a field type cannot be extended
    answer = requests.put(f"{sandbox.api_url}/v1/metadata/types/{integer['id']}", headers=admin, timeout=10,
                          json={"name": "x", "description": "x", "propertyType": {"id": integer["id"], "type": "type"}})
    assert answer.status_code == 400


def test_setup_dry_run_defines_nothing_and_a_read_only_user_gets_a_clear_refusal(cli, env, sandbox):
    dry = cli("setup", "--dry-run", env=env)
    assert dry.exit_code == 0 and "+ mlmodel.mlflowVersion (integer) would be created" in dry.stdout
    assert not mlmodel_type(sandbox)["customProperties"]
    refused = cli("setup", env={**env, "OPENMETADATA_JWT_TOKEN": sandbox.token("dana")})
    assert refused.exit_code == 2
    assert "may not PUT /v1/metadata/types/" in refused.stderr + refused.stdout
    assert sandbox.token("dana") not in refused.stderr + refused.stdout
