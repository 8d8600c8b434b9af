"""What the model was really trained on, and where its predictions go - end to end.

Runs log their datasets with ``mlflow.log_input`` into a real MLflow server (the example training
script's own helper); mlmeta maps them by the project file's rules and publishes to the sandbox.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from tests.helpers.files import REPO, write
from tests.helpers.publishing import SPEC, publish

PROJECT = """\
[tool.mlmeta]
service = "mlflow_models"
[tool.mlmeta.datasets.tables]
postgres = "demo_pg.postgres"
[tool.mlmeta.datasets.storage]
"s3://ml-training/bot_detector" = "s3.ml-training.bot_detector"
"""

WITHOUT_USERS = SPEC.replace("""    sources:
      - column: demo_pg.postgres.public.users.premium
""", "")


def _example(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def trained(mlflow_server):
    """Runs of the delivery-time model that logged their training data: ``{"all": ..., "no_users": ...,
    "columns": ...}``, each ``(model_uri, run_id, model_id)``. The first also logged a dataset whose source is
    not JSON; the last is the model that takes the tables' columns as they are (``train.py --inputs columns``)."""
    import mlflow
    from mlflow.entities import Dataset, DatasetInput, InputTag

    example = _example(REPO / "examples" / "train.py")
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("mlmeta-training-data")
    runs = {}
    for key, tables in (("all", ["orders", "restaurants", "users"]), ("no_users", ["orders", "restaurants"]),
                        ("columns", ["orders", "restaurants", "users"])):
        model, sample, metrics = (example.train_on_columns if key == "columns" else example.train)(10, 0.1, 2)
        with mlflow.start_run(run_name=key) as run:
            mlflow.log_params({"n_estimators": 10})
            example.log_training_data(sample, tables)
            if key == "all":
                broken = Dataset(name="scraped", digest="0badc0de", source_type="spark", source="{not json")
                mlflow.MlflowClient().log_inputs(run.info.run_id, [DatasetInput(broken, [
                    InputTag("mlflow.data.context", "training")])])
            # pip_requirements given: inferring them loads the model in a subprocess (about 17 s a run here)
            info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                            pip_requirements=["scikit-learn"],
                                            signature=mlflow.models.infer_signature(sample, model.predict(sample)))
        runs[key] = (info.model_uri, run.info.run_id, info.model_id)
    return runs


@pytest.fixture
def project(in_tmp):
    write(in_tmp / "pyproject.toml", PROJECT)
    return in_tmp


def register(registry, name: str, run: tuple[str, str, str]) -> str:
    try:
        registry.client.create_registered_model(name)
    except Exception:  # noqa: BLE001 - already there
        pass
    source, run_id, model_id = run
    version = registry.client.create_model_version(name, source=source, run_id=run_id, model_id=model_id).version
    registry.alias(name, version)
    return version


def spec_file(project: Path, name: str, text: str) -> Path:
    return write(project / "model_specs" / f"{name}.yaml", text.format(name=name, registered=name))


def lineage(sandbox, name: str) -> dict:
    graph = requests.get(f"{sandbox.api_url}/v1/lineage/mlmodel/name/mlflow_models.{name}?upstreamDepth=1"
                         "&downstreamDepth=1", headers={"Authorization": f"Bearer {sandbox.token()}"}, timeout=10)
    graph = graph.json()
    names = {n["id"]: n["fullyQualifiedName"] for n in graph["nodes"]}
    return {"up": {names[e["fromEntity"]]: e.get("lineageDetails") for e in graph["upstreamEdges"]},
            "down": {names[e["toEntity"]]: e.get("lineageDetails") for e in graph["downstreamEdges"]}}


def codes(out: dict) -> list[tuple[str, str, int]]:
    return [(d["code"], d["severity"], d["line"]) for m in out["models"] for d in m["diagnostics"]]


def test_plan_warns_about_a_table_trained_on_but_not_declared_and_strict_fails_until_the_spec_names_it(
        cli, env, sandbox, registry, trained, project):
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    spec = spec_file(project, name, WITHOUT_USERS)
    register(registry, name, trained["all"])

    result = cli("plan", "--format", "json", "--all", env=env)
    out = json.loads(result.stdout)
    assert result.exit_code == 0 and out["models"][0]["status"] == "created"
    features_line = spec.read_text().splitlines().index("features:") + 1
    assert ("R010", "warning", features_line) in codes(out)
    [warning] = [d for m in out["models"] for d in m["diagnostics"] if d["code"] == "R010"]
    assert f"(MLflow run {trained['all'][1]}): table 'demo_pg.postgres.public.users', which no source of the spec " \
           "names" in warning["message"]
    unmapped = [d["message"] for m in out["models"] for d in m["diagnostics"] if d["code"] == "R012"]
    assert any("holidays@" in m and "no rule under [tool.mlmeta.datasets.storage]" in m for m in unmapped)
    assert any("scraped@0badc0de" in m and "not a JSON object" in m for m in unmapped)  # no traceback, no failure

    strict = cli("plan", "--strict", "--format", "json", "--all", env=env)
    assert strict.exit_code == 1 and ("R010", "error", features_line) in codes(json.loads(strict.stdout))
    online = cli("validate", "--online", "--strict", "--format", "json", str(spec), env=env)
    assert online.exit_code == 1 and "R010" in {d["code"] for d in json.loads(online.stdout)["diagnostics"]}

    spec_file(project, name, SPEC)  # the spec now says where is_premium comes from: users.premium
    fixed = cli("plan", "--strict", "--format", "json", "--all", env=env)
    assert fixed.exit_code == 0, fixed.stdout
    assert "R010" not in {code for code, _, _ in codes(json.loads(fixed.stdout))}


def test_training_data_lineage_marks_the_edges_and_follows_the_next_version(cli, env, sandbox, registry, trained,
                                                                             project):
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    spec_file(project, name, WITHOUT_USERS.replace("target:", "training_data: lineage\ntarget:"))
    assert cli("setup", env=env).exit_code == 0
    register(registry, name, trained["all"])
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["status"] == "created", out
    run_all = trained["all"][1]
    edges = lineage(sandbox, name)["up"]
    users, orders = edges["demo_pg.postgres.public.users"], edges["demo_pg.postgres.public.orders"]
    assert users["description"].startswith(f"Training data, MLflow run {run_all}, dataset users@")
    assert "columnsLineage" not in users  # no feature comes from it
    assert orders["description"].startswith(f"Feature source of mlflow_models.{name}; training data, MLflow run "
                                            f"{run_all}, dataset orders@")
    assert orders["description"].endswith("(managed by mlmeta)") and orders["columnsLineage"]
    model = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?fields=extension",
                         headers={"Authorization": f"Bearer {sandbox.token()}"}, timeout=10).json()
    rows = model["extension"]["mlflowTrainingDatasets"]["rows"]
    assert [r["dataset"] for r in rows] == ["orders", "restaurants", "users", "holidays", "scraped"]
    assert rows[2]["source"] == "demo_pg.postgres.public.users" and rows[3]["source"].startswith("https://")

    # someone else draws their own edge into the model: mlmeta leaves it alone
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.order_events", headers=admin, timeout=10).json()
    requests.put(f"{sandbox.api_url}/v1/lineage", headers=admin, timeout=10, json={"edge": {
        "fromEntity": {"id": topic["id"], "type": "topic"}, "toEntity": {"id": model["id"], "type": "mlmodel"},
        "lineageDetails": {"description": "order events, drawn by the data team"}}}).raise_for_status()

    register(registry, name, trained["no_users"])  # version 2 no longer trains on users
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["removed"] == ["demo_pg.postgres.public.users"], out
    edges = lineage(sandbox, name)["up"]
    assert "demo_pg.postgres.public.users" not in edges
    assert f"MLflow run {trained['no_users'][1]}, dataset orders@" in edges["demo_pg.postgres.public.orders"][
        "description"]
    assert edges["kafka.order_events"]["description"] == "order events, drawn by the data team"
    assert "R010" not in {code for code, _, _ in codes(out)}


def test_an_unchanged_republish_costs_what_it_cost_before_datasets_were_logged(cli, env, sandbox, registry, trained,
                                                                                project):
    costs = {}
    for key, run in (("with datasets", trained["all"]), ("without", registry.logged[0])):
        name = f"delivery_{uuid.uuid4().hex[:8]}"
        (project / "model_specs").mkdir(exist_ok=True)
        for old in (project / "model_specs").glob("*.yaml"):
            old.unlink()
        spec_file(project, name, SPEC.replace("target:", "training_data: lineage\ntarget:"))
        register(registry, name, run)
        assert publish(cli, env, "--all")[0] == 0
        code, out = publish(cli, env, "--all")
        assert code == 0 and out["models"][0]["status"] == "unchanged"
        costs[key] = (out["summary"]["openmetadata_requests"], out["summary"]["mlflow_requests"])
    assert costs["with datasets"] == costs["without"], costs


BOT_RUN_TIMEOUT = 300


@pytest.fixture(scope="session")
def bot_detector_runs(mlflow_server, tmp_path_factory):
    """The streaming example's own training script, run as a user would, registering ``name``."""
    def train(name: str) -> None:
        env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url, "PYTHONWARNINGS": "ignore"}
        subprocess.run([sys.executable, str(REPO / "examples" / "streaming" / "train_bot_detector.py"),
                        "--registered-model", name, "--n-estimators", "5"], env=env, check=True, capture_output=True,
                       timeout=BOT_RUN_TIMEOUT)
    return train


def test_the_bot_detectors_predictions_land_downstream_in_the_results_topic(cli, env, sandbox, registry, project,
                                                                            bot_detector_runs):
    name = f"bots_{uuid.uuid4().hex[:8]}"
    text = (REPO / "examples" / "streaming" / "bot_detector.yaml").read_text(encoding="utf-8")
    spec = write(project / "model_specs" / f"{name}.yaml", text.replace("name: bot_detector", f"name: {name}")
                 .replace("registered_model: bot_detector", f"registered_model: {name}"))
    bot_detector_runs(name)
    registry.alias(name, "1")
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["outputs"]["added"] == ["kafka.bot_detection_results"], out
    assert "R010" not in {code for code, _, _ in codes(out)}  # the sessions export is the spec's label source
    edges = lineage(sandbox, name)
    results = edges["down"]["kafka.bot_detection_results"]
    [mapping] = results["columnsLineage"]
    assert mapping["toColumn"] == "kafka.bot_detection_results.IS_BOT"
    assert sorted(c.split(".")[-1] for c in mapping["fromColumns"]) == sorted(
        ["country", "platform", "product_views", "listing_views", "gallery_views", "nb_orders"])
    assert results["description"] == f"Predictions of mlflow_models.{name} (managed by mlmeta)"
    labels = edges["up"]["s3.ml-training.bot_detector"]["description"]
    assert labels.startswith(f"Label source of mlflow_models.{name}; training data, MLflow run ")

    drift = cli("drift", "--format", "json", env=env)
    assert drift.exit_code == 0, drift.stdout  # notices only (the topics are not what it trained on)
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.bot_detection_results", headers=admin,
                         timeout=10).json()
    model = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", headers=admin, timeout=10).json()
    requests.delete(f"{sandbox.api_url}/v1/lineage/mlmodel/{model['id']}/topic/{topic['id']}", headers=admin,
                    timeout=10).raise_for_status()
    drift = cli("drift", env=env)
    assert drift.exit_code == 1
    assert f"D005 outputs: lineage from mlflow_models.{name} to kafka.bot_detection_results is missing" in drift.stdout

    code, out = publish(cli, env, "--all", "--refresh")
    assert code == 0 and out["models"][0]["lineage"]["outputs"]["added"] == ["kafka.bot_detection_results"]
    without = spec.read_text().split("outputs:")[0] + "hyperparameters:" + spec.read_text().split("hyperparameters:")[1]
    spec.write_text(without, encoding="utf-8")
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["outputs"]["removed"] == ["kafka.bot_detection_results"], out
    assert lineage(sandbox, name)["down"] == {}


def test_init_writes_as_sources_only_columns_the_catalog_holds(cli, env, registry, project, bot_detector_runs):
    """The issue's first hour: init proposed the logged dataset's asset with the feature names as its column
    names, and every proposal was an R002 error online. The sessions export (the container) has none of the
    features' columns: no source is written, and the spec validates online."""
    name = f"bots_{uuid.uuid4().hex[:8]}"
    bot_detector_runs(name)
    registry.alias(name, "1")
    result = cli("init", "--from-mlflow", name, "-o", "model_specs/new.yaml", env=env)
    assert result.exit_code == 0, result.stderr
    text = (project / "model_specs" / "new.yaml").read_text()
    assert "column: country" not in text and "not checked" not in text
    assert "    sources: []  # TODO: no column of its name and type in the training datasets' assets " \
           "(s3.ml-training.bot_detector)" in text
    online = cli("validate", "--online", "--format", "json", "model_specs/new.yaml", env=env)
    assert online.exit_code == 0, online.stdout
    assert "R002" not in {d["code"] for d in json.loads(online.stdout)["diagnostics"]}

    offline = cli("init", "--from-mlflow", name, env={**env, "OPENMETADATA_HOST": ""})  # as before: said unchecked
    assert offline.exit_code == 0, offline.stderr
    assert "      - container: s3.ml-training.bot_detector\n        column: country" in offline.stdout
    assert "from the training dataset sessions@" in offline.stdout and "not checked in OpenMetadata" in offline.stdout
    assert "mlmeta init: feature sources not checked in OpenMetadata: OPENMETADATA_HOST is not set" in offline.stderr


def test_init_of_the_demos_run_lists_near_matches_as_comments_and_validates_online(cli, env, registry, trained,
                                                                                    project):
    """The demo's features are derived (last_update_bucket from orders.last_update ...): no column has their
    names, so none is a source; the columns that look alike are in comments, for a person to choose."""
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    register(registry, name, trained["all"])
    result = cli("init", "--from-mlflow", name, "-o", "model_specs/new.yaml", env=env)
    assert result.exit_code == 0, result.stderr
    spec_text = (project / "model_specs" / "new.yaml").read_text()
    assert all(f["sources"] == [] for f in yaml.safe_load(spec_text)["features"])
    assert "#   - {table: demo_pg.postgres.public.users, column: premium}  # BOOLEAN, a similar name" in spec_text
    assert "#   - {table: demo_pg.postgres.public.orders, column: last_update}  # TIMESTAMP, a similar name" in spec_text
    assert "mlmeta init: training dataset holidays@" in result.stderr  # what it could not map, said
    assert "no estimator class" in result.stderr and "# algorithm: TODO" in spec_text  # the run tags none
    online = cli("validate", "--online", "model_specs/new.yaml", env=env)
    assert online.exit_code == 0, online.stdout


def test_init_of_a_model_on_the_tables_columns_needs_no_source_by_hand(cli, env, sandbox, registry, trained, project):
    """The walkthrough's case: each input of the model is a column of a table its run logged. init reads each
    table once and writes every source; the spec validates online, strictly, as written."""
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    register(registry, name, trained["columns"])
    result = cli("init", "--from-mlflow", name, "-o", "model_specs/new.yaml", "--format", "json", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("wrote model_specs/new.yaml: every feature's source was found in the catalog")
    spec = yaml.safe_load((project / "model_specs" / "new.yaml").read_text())
    assert {f["name"]: f["sources"] for f in spec["features"]} == {
        "last_update": [{"table": "demo_pg.postgres.public.orders", "column": "last_update"}],
        "rating": [{"table": "demo_pg.postgres.public.restaurants", "column": "rating"}],
        "average_price": [{"table": "demo_pg.postgres.public.restaurants", "column": "average_price"}],
        "premium": [{"table": "demo_pg.postgres.public.users", "column": "premium"}]}
    assert [f["type"] for f in spec["features"]] == ["numerical", "numerical", "numerical", "categorical"]
    asked = sandbox.stats()["requests"]
    assert asked == {"GET /v1/system/version": 1, "GET /v1/tables/name/{key}": 3}, asked  # one GET per table
    online = cli("validate", "--online", "--strict", "--format", "json", "model_specs/new.yaml", env=env)
    assert online.exit_code == 0, online.stdout
