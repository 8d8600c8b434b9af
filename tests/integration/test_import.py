"""``mlmeta import``: a spec from a model already in the catalog. On the sandbox with a real MLflow (the
spec as data and as text, offline: tests/unit/commands/test_catalog_import.py), a
model published elsewhere comes back as a spec that validates and re-publishes with no change
but the adoption, and a model made the way OpenMetadata's MLflow connector makes it is imported,
taken over by publish with a warning, and recognised again after the connector writes it back."""

from __future__ import annotations

import json
import uuid

import requests
import yaml

from mlmeta.catalog import ownership
from tests.helpers.files import write
from tests.helpers.ownership import git_project, run, stored, writes
from tests.helpers.publishing import SPEC

ONE, TWO = "github.com/acme/one", "github.com/acme/two"

TABLES = "demo_pg.postgres.public"

LINEAGE = f"""\
label_sources:
  - table: {TABLES}.orders
outputs:
  - topic: kafka.bot_detection_results
    field: IS_BOT
    features: [is_premium]
"""


def admin(sandbox, user: str = "admin") -> dict:
    return {"Authorization": f"Bearer {sandbox.token(user)}"}


def test_an_imported_spec_validates_and_republishes_with_no_change_but_the_adoption(cli, env, sandbox, registry,
                                                                                     in_tmp, monkeypatch):
    assert cli("setup", env=env).exit_code == 0
    name = f"imported_{uuid.uuid4().hex[:8]}"
    elsewhere = in_tmp / "elsewhere"  # a project whose spec is gone since
    write(elsewhere / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name) + LINEAGE)
    registry.alias(name, registry.register(name))
    monkeypatch.chdir(elsewhere)
    assert run(cli, env, "publish", "--all")[0] == 0
    model = stored(sandbox, name)
    unowned = {k: v for k, v in model["extension"].items() if k != ownership.PROPERTY}  # published before owners
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", timeout=10,
                   json=[{"op": "replace", "path": "/extension", "value": unowned}],
                   headers={**admin(sandbox, "mlmeta-bot"), "Content-Type": "application/json-patch+json"}
                   ).raise_for_status()
    here = git_project(in_tmp / "here", f"https://github.com/{TWO.split('/', 1)[1]}.git")
    monkeypatch.chdir(here)
    code, out = run(cli, env, "import", f"mlflow_models.{name}")
    [imported] = out["models"]
    assert code == 0 and imported["status"] == "written" and imported["path"] == f"model_specs/{name}.yaml"
    assert "publishing it makes" in imported["message"]
    spec = yaml.safe_load((here / "model_specs" / f"{name}.yaml").read_text())
    assert spec["description"] == "Estimates how long an order takes to arrive." and spec["target"] == "expected_time"
    assert spec["features"][1] == {"name": "restaurant_dimension", "type": "numerical", "algorithm": "PCA", "sources": [
        {"table": f"{TABLES}.restaurants", "column": "rating"},
        {"table": f"{TABLES}.restaurants", "column": "average_price"}]}
    assert spec["hyperparameters"] == {"n_estimators": {"description": "Number of boosting stages."}}
    assert "algorithm" not in spec and "mlflow" not in spec  # MLflow gives them on every publish
    assert spec["label_sources"] == [{"table": f"{TABLES}.orders"}]  # from the edges mlmeta drew
    assert spec["outputs"] == [{"topic": "kafka.bot_detection_results", "field": "IS_BOT", "features": ["is_premium"]}]
    assert cli("validate", env=env).exit_code == 0
    code, plan = run(cli, env, "plan")
    assert [c["summary"] for c in plan["models"][0]["changes"]] == [
        f"custom property {ownership.PROPERTY}: (none) -> '{TWO}'"]
    lineage = plan["models"][0]["lineage"]
    assert lineage["added"] == lineage["updated"] == lineage["removed"] == []
    assert lineage["outputs"] == {"added": [], "updated": [], "removed": []}
    sandbox.reset_stats()
    assert run(cli, env, "publish", "--all")[1]["models"][0]["status"] == "updated"
    assert writes(sandbox) == {"PATCH /v1/mlmodels/{key}": 1}
    assert stored(sandbox, name)["extension"][ownership.PROPERTY] == TWO
    code, again = run(cli, env, "import", f"mlflow_models.{name}")  # the spec is there now: never a second one
    assert code == 1 and again["models"][0]["status"] == "refused" and "documents it already" in \
        again["models"][0]["message"]


def connector_creates(sandbox, mlflow_url: str, name: str) -> dict:
    """The model as OpenMetadata's MLflow connector creates it (MlflowSource.yield_mlmodel, sent with
    create_or_update as the ingestion bot): the registered model's name and description, the
    constant algorithm, the run's parameters, the signature's columns without sources, the run's
    artifact location, the registered model's page, and the ingestion framework's md5 fingerprint."""
    body = {"name": name, "service": "mlflow_models", "description": "Delivery time, as the registry describes it.",
            "algorithm": "mlmodel",
            "mlHyperParameters": [{"name": "n_estimators", "value": "20"}, {"name": "learning_rate", "value": "0.1"},
                                  {"name": "max_depth", "value": "3"}],
            "mlFeatures": [{"name": "last_update_bucket", "dataType": "categorical"},
                           {"name": "restaurant_dimension", "dataType": "numerical"},
                           {"name": "is_premium", "dataType": "numerical"}],
            "mlStore": {"storage": "mlflow-artifacts:/1/runs/artifacts"},
            "sourceUrl": f"{mlflow_url}/#/models/{name}", "sourceHash": uuid.uuid4().hex}
    answer = requests.put(f"{sandbox.api_url}/v1/mlmodels", json=body, headers=admin(sandbox, "ingestion-bot"),
                          timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_a_model_the_connector_ingested_is_imported_taken_over_and_recognised_again(cli, env, sandbox, registry,
                                                                                     mlflow_server, in_tmp):
    assert cli("setup", env=env).exit_code == 0
    git_project(in_tmp, f"https://github.com/{ONE.split('/', 1)[1]}.git")
    name = f"ingested_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    created = connector_creates(sandbox, mlflow_server.url, name)
    code, out = run(cli, env, "import", f"mlflow_models.{name}")
    assert code == 0, out
    text = (in_tmp / "model_specs" / f"{name}.yaml").read_text()
    assert "ingested by OpenMetadata's MLflow connector" in text and "mlModelFilterPattern" in text
    spec = yaml.safe_load(text)
    assert spec["description"] == "Delivery time, as the registry describes it."
    assert "algorithm" not in spec and "ml_store" not in spec and "hyperparameters" not in spec  # the newest version's
    assert [f["name"] for f in spec["features"]] == ["last_update_bucket", "restaurant_dimension", "is_premium"]
    assert cli("validate", env=env).exit_code == 0
    code, plan = run(cli, env, "plan")
    [model] = plan["models"]
    assert code == 0 and model["status"] == "updated"
    assert [d["code"] for d in model["diagnostics"]] == ["O002"]
    fields = {c["field"] for c in model["changes"]}
    assert {"description", "algorithm", "sourceUrl", "extension"} <= fields
    code, out = run(cli, env, "publish", "--all")
    assert code == 0 and [d["code"] for d in out["models"][0]["diagnostics"]] == ["O002"]
    taken = stored(sandbox, name)
    assert taken["sourceHash"].startswith("mlmeta:") and taken["extension"][ownership.PROPERTY] == ONE
    assert taken["algorithm"] == "GradientBoostingRegressor"
    # the connector's next run: its fingerprint differs, so it PATCHes its fields back (description,
    # tags, owners and extension only where empty: restrict_update_fields)
    back = [{"op": "replace", "path": "/algorithm", "value": "mlmodel"},
            {"op": "replace", "path": "/sourceUrl", "value": f"{mlflow_server.url}/#/models/{name}"},
            {"op": "replace", "path": "/sourceHash", "value": uuid.uuid4().hex}]
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{created['id']}", json=back, timeout=10,
                   headers={**admin(sandbox, "ingestion-bot"), "Content-Type": "application/json-patch+json"}
                   ).raise_for_status()
    code, drift = run(cli, env, "drift")
    assert code == 1 and [d["code"] for d in drift["diagnostics"]] == ["O002"]
    assert "after mlmeta's last publish" in drift["diagnostics"][0]["message"]
    code, out = run(cli, env, "publish", "--all")
    assert code == 0 and out["models"][0]["status"] == "updated"
    assert stored(sandbox, name)["algorithm"] == "GradientBoostingRegressor"
