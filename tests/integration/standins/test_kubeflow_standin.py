"""The Kubeflow Model Registry stand-in, checked by the real MLflow plugin (model-registry-mlflow):
a training run logged through ``modelregistry://`` reads back whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from mlmeta.standins.kubeflow import StandIn

RUN = """
import json, os, sys
import mlflow, mlflow.data, pandas as pd
from mlflow.data.spark_dataset_source import SparkDatasetSource

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("churn")
frame = pd.DataFrame({"tenure": [1, 2, 3], "premium": [True, False, True]})
with mlflow.start_run(run_name="r1") as run:
    mlflow.log_params({"n_estimators": 10, "lr": 0.1})
    mlflow.log_metric("auc", 0.9)
    source = SparkDatasetSource(table_name="postgres.public.users")
    mlflow.log_input(mlflow.data.from_pandas(frame, source=source, name="users"), context="training")
    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), input_example=frame)
    mlflow.log_metric("auc", 0.93, step=1)
got = mlflow.get_run(run.info.run_id)
history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "auc")
print(json.dumps({"params": got.data.params, "metrics": got.data.metrics, "model": info.model_id,
                  "inputs": [[d.dataset.name, d.dataset.source] for d in got.inputs.dataset_inputs],
                  "history": [[m.step, m.value] for m in history]}))
"""


@pytest.fixture
def registry():
    with StandIn() as standin:
        yield standin


def test_the_mlflow_plugin_logs_a_whole_training_run_into_it(registry, tmp_path):
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", RUN, f"modelregistry://127.0.0.1:{registry.port}"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["params"] == {"n_estimators": "10", "lr": "0.1"} and run["metrics"] == {"auc": 0.93}
    assert run["inputs"] == [["users", '{"table_name": "postgres.public.users"}']]
    # log_model re-posts the step-0 metrics, which the server keeps as another history row
    assert [step for step, _ in run["history"]] == [0, 0, 1]
    assert registry.state.artifacts[run["model"]]["artifactType"] == "model-artifact"


def test_names_are_unique_and_a_missing_one_is_not_found_with_the_servers_words(registry):
    base = registry.url + "/api/model_registry/v1alpha3"
    created = requests.post(base + "/registered_models", json={"name": "churn"}, timeout=10)
    assert created.status_code == 201 and created.json()["id"].isdigit() and created.json()["state"] == "LIVE"
    again = requests.post(base + "/registered_models", json={"name": "churn"}, timeout=10)
    assert again.status_code == 409 and set(again.json()) == {"code", "message"}
    missing = requests.get(base + "/registered_model", params={"name": "nope"}, timeout=10)
    assert missing.status_code == 404 and "not found" in missing.json()["message"]
    refused = requests.post(base + "/registered_models", json={"name": "x", "colour": "red"}, timeout=10)
    assert refused.status_code == 400  # the client's own model refuses an unknown key


def test_lists_page_with_a_next_page_token_empty_on_the_last_page(registry):
    base = registry.url + "/api/model_registry/v1alpha3"
    for i in range(5):
        requests.post(base + "/registered_models", json={"name": f"m{i}"}, timeout=10).raise_for_status()
    seen, token = [], ""
    while True:
        page = requests.get(base + "/registered_models", params={"pageSize": 2, "nextPageToken": token},
                            timeout=10).json()
        seen += [m["name"] for m in page["items"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert seen == [f"m{i}" for i in range(5)]


def test_the_official_client_reads_back_what_it_registered(registry):
    """model-registry's own client parses every answer with its generated models (strict types)."""
    from model_registry import ModelRegistry

    client = ModelRegistry("http://127.0.0.1", registry.port, author="alice", is_secure=False)
    client.register_model("churn", "s3://models/churn/1", version="v1", model_format_name="sklearn",
                          model_format_version="1", metadata={"accuracy": 0.9, "epochs": 3, "stage": "staging"})
    version = client.get_model_version("churn", "v1")
    assert version.author == "alice" and version.custom_properties == {"accuracy": 0.9, "epochs": 3,
                                                                        "stage": "staging"}
    version.custom_properties = {**version.custom_properties, "stage": "production"}
    client.update(version)
    assert client.get_model_version("churn", "v1").custom_properties["stage"] == "production"
    assert client.get_model_artifact("churn", "v1").uri == "s3://models/churn/1"
    assert [v.name for v in client.get_model_versions("churn")] == ["v1"]
    with pytest.raises(Exception, match="already exists"):
        client.register_model("churn", "s3://x", version="v1", model_format_name="sklearn", model_format_version="1")


def test_the_servers_answers_for_bad_requests_and_the_deprecated_prefix(registry):
    v1, old = registry.url + "/api/model_registry/v1", registry.url + "/api/model_registry/v1alpha3"
    missing = requests.post(v1 + "/registered_models", json={"description": "no name"}, timeout=10)
    assert missing.status_code == 422 and missing.json() == {"code": "Bad Request",
                                                             "message": "required field 'name' is zero value."}
    assert requests.get(v1 + "/registered_models/abc", timeout=10).status_code == 400
    unknown = requests.get(v1 + "/registered_models/7", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["message"] == "no registered model found for id 7: not found"
    assert requests.get(v1 + "/registered_models", params={"pageSize": "ten"}, timeout=10).status_code == 400
    assert requests.get(v1 + "/registered_model", timeout=10).status_code == 400  # a find needs its parameters
    listed = requests.get(old + "/registered_models", timeout=10)
    assert listed.headers["Deprecation"] == "true" and "successor-version" in listed.headers["Link"]
    assert "Deprecation" not in requests.get(v1 + "/registered_models", timeout=10).headers
    model = requests.post(v1 + "/registered_models", json={"name": "m"}, timeout=10).json()
    version = requests.post(v1 + "/model_versions", json={"name": "1", "registeredModelId": model["id"]},
                            timeout=10).json()
    assert int(version["id"]) == int(model["id"]) + 1  # one sequence for models, versions, experiments, runs
    artifacts = f"{v1}/model_versions/{version['id']}/artifacts"
    created = requests.post(artifacts, json={"artifactType": "model-artifact", "name": "m", "uri": "s3://b/k"},
                            timeout=10)
    assert created.status_code == 201 and created.json()["state"] == "UNKNOWN"
    again = requests.post(artifacts, json={"artifactType": "model-artifact", "name": "m", "uri": "s3://b/k2"},
                          timeout=10)
    assert again.status_code == 409 and again.json()["message"].endswith(": conflict")
    metric = requests.post(artifacts, json={"artifactType": "metric", "name": "auc", "value": 0.9}, timeout=10)
    assert metric.status_code == 200  # an upsert that created a metric still answers 200, as the server does
