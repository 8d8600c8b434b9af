"""``mlmeta drift`` against a real MLflow server and the sandbox: each kind of drift is found and
placed at the spec's line; a catalog in step with the specs reports nothing (exit 0)."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.helpers.files import write
from tests.helpers.publishing import SPEC

TABLES = "demo_pg.postgres.public"


@pytest.fixture
def published(cli, env, registry, in_tmp):
    """A model in Production, published (with mlmeta's properties defined, the owner's among them, as
    ``mlmeta setup`` leaves a catalog): (name, spec path)."""
    assert cli("setup", env=env).exit_code == 0
    name = f"drifting_{uuid.uuid4().hex[:8]}"
    spec = write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    registry.alias(name, registry.register(name))
    assert cli("publish", "--all", env=env).exit_code == 0
    return name, spec


def drift(cli, env, *args):
    result = cli("drift", "--format", "json", *args, env=env)
    document = json.loads(result.stdout)
    return result.exit_code, {d["code"]: d for d in document["diagnostics"]}, document


def admin(sandbox) -> dict:
    return {"Authorization": f"Bearer {sandbox.token('admin')}"}


def model_of(sandbox, name: str) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", headers=admin(sandbox),
                        timeout=10).json()


def test_a_catalog_in_step_reports_nothing(cli, env, published):
    code, findings, document = drift(cli, env)
    assert code == 0 and findings == {} and document["summary"]["checked"] == 1
    assert "all in sync" in cli("drift", env=env).stdout


def test_a_managed_field_edited_in_the_catalog_says_who_and_where(cli, env, sandbox, published):
    name, _ = published
    model = model_of(sandbox, name)
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", timeout=10,
                   json=[{"op": "replace", "path": "/description", "value": "Edited in the UI."}],
                   headers={**admin(sandbox), "Content-Type": "application/json-patch+json"}).raise_for_status()
    code, findings, _ = drift(cli, env)
    assert code == 1
    edit = findings["D001"]
    assert edit["line"] == 4 and "description edited in the catalog by admin" in edit["message"]


def test_sources_deleted_dropped_and_retyped(cli, env, sandbox, published):
    name, _ = published
    orders = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.orders?fields=columns", headers=admin(sandbox),
                          timeout=10).json()
    users = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.users", headers=admin(sandbox), timeout=10).json()
    requests.delete(f"{sandbox.api_url}/v1/tables/{users['id']}", headers=admin(sandbox), timeout=10).raise_for_status()
    columns = [{"name": c["name"], "dataType": "VARCHAR" if c["name"] == "last_update" else c["dataType"]}
               for c in orders["columns"]]
    requests.put(f"{sandbox.api_url}/v1/tables", headers=admin(sandbox), timeout=10, json={
        "name": "orders", "databaseSchema": TABLES, "columns": columns}).raise_for_status()
    restaurants = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.restaurants?fields=columns",
                               headers=admin(sandbox), timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/tables", headers=admin(sandbox), timeout=10, json={
        "name": "restaurants", "databaseSchema": TABLES,
        "columns": [{"name": c["name"], "dataType": c["dataType"]} for c in restaurants["columns"]
                    if c["name"] != "rating"]}).raise_for_status()
    code, findings, _ = drift(cli, env)
    assert code == 1
    assert findings["D002"]["line"] == 25 and "is deleted" in findings["D002"]["message"]
    assert findings["D003"]["line"] == 19 and "column 'rating' not found" in findings["D003"]["message"]
    assert findings["D004"]["line"] == 13 and "is now VARCHAR (string); the model records timestamp" in \
        findings["D004"]["message"]


def test_lineage_missing_and_added_by_someone_else(cli, env, sandbox, published):
    name, _ = published
    model = model_of(sandbox, name)
    orders = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.orders", headers=admin(sandbox), timeout=10).json()
    requests.delete(f"{sandbox.api_url}/v1/lineage/table/{orders['id']}/mlmodel/{model['id']}", headers=admin(sandbox),
                    timeout=10).raise_for_status()
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.order_events", headers=admin(sandbox),
                         timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/lineage", headers=admin(sandbox), timeout=10, json={"edge": {
        "fromEntity": {"id": topic["id"], "type": "topic"}, "toEntity": {"id": model["id"], "type": "mlmodel"}}}
                 ).raise_for_status()
    code, findings, _ = drift(cli, env)
    assert code == 1
    assert f"lineage from {TABLES}.orders" in findings["D005"]["message"]
    assert "lineage from kafka.order_events" in findings["D006"]["message"] and "admin" in findings["D006"]["message"]


def test_a_version_promoted_but_not_published_and_then_no_production_any_more(cli, env, registry, published):
    name, _ = published
    registry.alias(name, registry.register(name, run=1))
    code, findings, _ = drift(cli, env)
    assert code == 1 and "version 2" in findings["D007"]["message"] and "shows version 1" in findings["D007"]["message"]
    registry.client.delete_registered_model_alias(name, "champion")
    code, findings, _ = drift(cli, env)
    assert "no version of" in findings["D008"]["message"] and "still shows version 1" in findings["D008"]["message"]


def test_a_spec_changed_since_its_publish_and_a_spec_that_is_gone(cli, env, published):
    name, spec = published
    spec.write_text(spec.read_text().replace("to arrive.", "to arrive at the door."))
    code, findings, _ = drift(cli, env)
    assert code == 1 and "changed since it was last published" in findings["D010"]["message"]
    spec.unlink()
    write(spec.parent / "other.yaml", SPEC.format(name="other_model", registered="other_model"))
    code, _, document = drift(cli, env)
    assert code == 1
    [orphan] = document["orphans"]
    assert orphan["model"] == f"mlflow_models.{name}" and "D009" in orphan["message"]
    summary = document["summary"]
    assert summary["drifted"] <= summary["checked"] == 1 and summary["orphans"] == 1
    # seen: "drift: 2 models drifted of 1 checked (3 findings)" - the model without a spec counted as checked
    said = cli("drift", env=env).stdout.splitlines()[-1]
    assert said.startswith(f"drift: {summary['drifted']} of 1 model checked drifted; 1 published model has no spec (")


def test_github_format_annotates_and_summarises(cli, env, sandbox, published, in_tmp):
    name, _ = published
    summary = in_tmp / "summary.md"
    model = model_of(sandbox, name)
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", timeout=10,
                   json=[{"op": "replace", "path": "/description", "value": "Edited."}],
                   headers={**admin(sandbox), "Content-Type": "application/json-patch+json"}).raise_for_status()
    result = cli("drift", "--format", "github", env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    assert "::warning file=model_specs/" in result.stdout and "D001" in result.stdout
    assert summary.read_text().startswith("### mlmeta drift: 1 of 1 model checked drifted (1 finding)")


def test_a_model_mlmeta_never_published_is_not_drift(cli, env, sandbox, registry, in_tmp):
    name = f"hand_made_{uuid.uuid4().hex[:8]}"
    requests.post(f"{sandbox.api_url}/v1/mlmodels", headers=admin(sandbox), timeout=10, json={
        "name": name, "service": "mlflow_models", "algorithm": "Manual"}).raise_for_status()
    registry.client.create_registered_model(f"{name}_rm")
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=f"{name}_rm"))
    code, findings, _ = drift(cli, env)
    assert (code, findings) == (0, {})  # nothing in Production, and the catalog's model is not mlmeta's
    registry.alias(f"{name}_rm", registry.register(f"{name}_rm"))
    code, findings, _ = drift(cli, env)
    assert code == 1 and list(findings) == ["D007"]
    assert "was not published by mlmeta" in findings["D007"]["message"] and "?" not in findings["D007"]["message"]
