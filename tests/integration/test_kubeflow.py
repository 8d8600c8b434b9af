"""Kubeflow Model Registry as the registry, end to end: a model trained through the registry's own
MLflow plugin (``model-registry-mlflow``, from PyPI) into the KF MR stand-in, registered with the
official client and marked Production per its spec, published to the OpenMetadata sandbox.

The training runs once per session (``examples/kubeflow/train.py``, about 18 s); each test gets
its own registry, a copy of the trained one, so tests can move markers without meeting.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mlmeta.standins.kubeflow import StandIn
from tests.helpers.files import REPO
from tests.helpers.publishing import writes

EXAMPLE = REPO / "examples" / "kubeflow"

API = "/api/model_registry/v1"


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A registry holding version v1 of delivery_time_kf, trained through the plugin, stage = production."""
    work = tmp_path_factory.mktemp("kubeflow-training")  # the plugin writes the model's files under here
    with StandIn() as registry:
        env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}
        done = subprocess.run([sys.executable, str(EXAMPLE / "train.py"), registry.url, "--version", "v1",
                               "--production"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        yield registry.state


@pytest.fixture
def kfmr(trained):
    with StandIn(state=trained.copy()) as registry:
        yield registry


@pytest.fixture
def project(tmp_path, monkeypatch, sandbox, kfmr):
    """The example's project folder, and the environment that points mlmeta at both stand-ins."""
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.chdir(folder)
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token("mlmeta-bot"),
           "MODEL_REGISTRY_URL": kfmr.url, "MLFLOW_TRACKING_URI": ""}
    return folder, env


def run(cli, env, *args):
    result = cli(*args, "--format", "json", env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def version_id(kfmr, name: str) -> str:
    return next(v["id"] for v in kfmr.state.versions.values() if v["name"] == name)


def register(kfmr, name: str, *, like: str = "v1") -> str:
    """Another version of the model, pointing at the same logged model (as a re-registration would)."""
    base = kfmr.url + API
    source = version_id(kfmr, like)
    model_id = kfmr.state.versions[source]["registeredModelId"]
    created = requests.post(base + "/model_versions", json={"name": name, "registeredModelId": model_id,
                                                            "author": "bob"}, timeout=10)
    created.raise_for_status()
    [artifact] = [kfmr.state.artifacts[a] for a in kfmr.state.version_artifacts[source]]
    requests.post(f"{base}/model_versions/{created.json()['id']}/artifacts", timeout=10, json={
        "artifactType": "model-artifact", "name": "delivery_time_kf", "uri": artifact["uri"],
        "modelFormatName": "sklearn", "modelFormatVersion": "1"}).raise_for_status()
    return created.json()["id"]


def set_property(kfmr, version: str, value: dict | None) -> None:
    """Set (or, with None, take off) the version's custom property ``stage``, as the KF MR UI does."""
    vid = version_id(kfmr, version)
    properties = {k: v for k, v in kfmr.state.versions[vid]["customProperties"].items() if k != "stage"}
    if value is not None:
        properties["stage"] = value
    requests.patch(f"{kfmr.url}{API}/model_versions/{vid}", json={"customProperties": properties},
                   timeout=10).raise_for_status()


PRODUCTION = {"metadataType": "MetadataStringValue", "string_value": "production"}


def test_the_plugin_trained_model_is_published_with_its_metrics_and_parameters_and_a_rerun_writes_nothing(
        cli, project, sandbox, kfmr):
    folder, env = project
    code, first = run(cli, env, "publish", "--all", "--create-service", "--create-properties")
    assert code == 0, first
    [model] = first["models"]
    assert model["status"] == "created" and model["production"] == {
        "registered_model": "delivery_time_kf", "version": "v1", "recognised_by": "property",
        "marker": "stage=production", "registry": "kubeflow"}
    entity = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/kubeflow_models.delivery_time_kf",
                          params={"fields": "mlHyperParameters,mlFeatures,sourceUrl,extension"},
                          headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()
    # the run's parameters, as the plugin stored them, are the hyperparameters' values
    assert {p["name"]: p["value"] for p in entity["mlHyperParameters"]} == {
        "n_estimators": "50", "learning_rate": "0.1", "max_depth": "3"}
    assert "- **Metrics:** `mae` " in entity["description"] and "`rmse`" in entity["description"]
    # and as typed provenance: the run the plugin stored, its metrics (no MLflow alias or stage: KF MR has none)
    extension = entity["extension"]
    assert extension["mlflowRegisteredModel"] == "delivery_time_kf" and extension["mlflowRunId"].isdigit()
    assert {row["metric"] for row in extension["mlflowMetrics"]["rows"]} == {"mae", "r2", "rmse"}
    assert "mlflowAlias" not in extension and "mlflowStage" not in extension
    assert "custom property `stage=production` in Kubeflow Model Registry" in entity["description"]
    # the version's own facts: who registered it, its description, format and custom properties
    assert "by `alice`" in entity["description"] and "- **Version:** Gradient boosting, 50 trees" in entity[
        "description"]
    assert "- **Format:** sklearn 1." in entity["description"]
    assert "- **Properties:** `stage` production" in entity["description"]
    assert entity["sourceUrl"] == f"{kfmr.url}{API}/model_versions/{version_id(kfmr, 'v1')}"
    # its signature was read (the logged model's MLmodel): no feature is reported missing from it
    assert not [d for d in model["diagnostics"] if d["code"] in ("R006", "R007")]
    # the training datasets the plugin stored drew the lineage, marked as training data
    lineage = model["lineage"]
    assert sorted(lineage["added"]) == [f"demo_pg.postgres.public.{t}" for t in ("orders", "restaurants", "users")]
    assert all(any(r.startswith("training data, MLflow run") for r in roles) for roles in lineage["roles"].values())
    before = writes(sandbox)
    code, again = run(cli, env, "publish", "--all")
    assert code == 0 and again["models"][0]["status"] == "unchanged"
    assert writes(sandbox) == before  # a re-run writes nothing
    assert again["summary"]["mlflow_requests"] == 3  # handshake, the models, the model's versions


def test_watch_once_emits_one_event_when_the_marker_moves_to_a_new_version(cli, project, kfmr):
    folder, env = project
    sink = ["--create-service", "--sink", f"jsonl:{folder / 'events.jsonl'}"]
    baseline = cli("watch", "--once", *sink, env=env)
    assert baseline.exit_code == 0, baseline.stdout + baseline.stderr  # a new checkpoint: catches up, no event
    assert not (folder / "events.jsonl").exists()
    register(kfmr, "v2")
    set_property(kfmr, "v1", None)
    set_property(kfmr, "v2", PRODUCTION)
    result = cli("watch", "--once", *sink, env=env)
    assert result.exit_code == 0, result.stderr
    [event] = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    data = event["data"]
    assert (data["name"], data["version"], data["registry"]) == ("delivery_time_kf", "v2", "kubeflow")
    assert data["promotion"] == {"recognisedBy": "property", "marker": "stage=production", "generation": "1"}
    assert data["userId"] == "bob" and data["kubeflow"]["modelVersionId"] == version_id(kfmr, "v2")
    assert data["catalog"][0]["action"] == "updated" and event["source"] == kfmr.url
    assert cli("watch", "--once", *sink, env=env).exit_code == 0
    assert len((folder / "events.jsonl").read_text().splitlines()) == 1  # nothing moved: no event


def test_two_versions_marked_fail_the_spec_at_its_rule_naming_both(cli, project, kfmr, sandbox):
    folder, env = project
    register(kfmr, "v2")
    set_property(kfmr, "v2", PRODUCTION)
    code, report = run(cli, env, "publish", "--all", "--create-service")
    assert code == 1
    [diagnostic] = [d for d in report["models"][0]["diagnostics"] if d["code"] == "R013"]
    line = _line_of(folder / "model_specs" / "delivery_time_kf.yaml", "    property: stage")
    assert diagnostic["line"] == line and "'v1'" in diagnostic["message"] and "'v2'" in diagnostic["message"]
    assert writes(sandbox) == {}  # nothing half-written


def test_a_property_of_the_wrong_type_fails_the_spec_at_its_line(cli, project, kfmr):
    folder, env = project
    set_property(kfmr, "v1", {"metadataType": "MetadataIntValue", "int_value": "1"})
    code, report = run(cli, env, "validate", "--online")
    assert code == 1
    [diagnostic] = [d for d in report["diagnostics"] if d["code"] == "R013"]
    assert diagnostic["line"] == _line_of(folder / "model_specs" / "delivery_time_kf.yaml", "    property: stage")
    assert "MetadataIntValue" in diagnostic["message"] and "not a string" in diagnostic["message"]


def test_a_url_that_is_not_a_kubeflow_model_registry_is_a_configuration_error(cli, project, sandbox):
    folder, env = project
    result = cli("publish", "--all", env={**env, "MODEL_REGISTRY_URL": sandbox.url})
    assert result.exit_code == 2
    assert "not a Kubeflow Model Registry" in result.stderr and "MODEL_REGISTRY_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_registry_that_is_down_or_silent_fails_fast_with_the_true_cause(cli, project, sandbox):
    from mlmeta.demo.peers import silent_listener
    from mlmeta.demo.services import free_port
    from tests.helpers.failing import FAST

    folder, env = project
    started = time.monotonic()
    refused = cli("publish", "--all", env={**env, **FAST, "MODEL_REGISTRY_URL": f"http://127.0.0.1:{free_port()}"})
    assert refused.exit_code == 2 and time.monotonic() - started < 5
    assert "Kubeflow Model Registry refused the connection" in refused.stderr and "MODEL_REGISTRY_URL" in refused.stderr
    with silent_listener() as url:
        started = time.monotonic()
        silent = cli("publish", "--all", env={**env, **FAST, "MODEL_REGISTRY_URL": url})
    assert silent.exit_code == 2 and 2.5 < time.monotonic() - started < 8
    assert "did not answer for 3 s" in silent.stderr and "Traceback" not in silent.stderr
    assert writes(sandbox) == {}


def test_a_refused_token_is_a_configuration_error_in_the_servers_words_and_never_printed(cli, project, trained):
    folder, env = project
    with StandIn(token="the-right-token", state=trained.copy()) as guarded:
        wrong = cli("publish", "--all", env={**env, "MODEL_REGISTRY_URL": guarded.url,
                                             "MODEL_REGISTRY_TOKEN": "a-wrong-token-0123"})
        assert wrong.exit_code == 2
        assert "HTTP 401: Unauthorized: the bearer token is missing or not accepted" in wrong.stderr
        assert "MODEL_REGISTRY_TOKEN" in wrong.stderr and "a-wrong-token-0123" not in wrong.stdout + wrong.stderr
        token_file = folder / "kfmr.token"
        token_file.write_text("the-right-token\n")
        right = cli("plan", "--all", "--create-service", env={**env, "MODEL_REGISTRY_URL": guarded.url,
                                          "MODEL_REGISTRY_TOKEN_FILE": str(token_file)})
        assert right.exit_code == 0, right.stdout + right.stderr
        assert "the-right-token" not in right.stdout + right.stderr


def test_drift_follows_the_marker_and_init_starts_a_spec_from_a_kubeflow_model(cli, project, kfmr):
    folder, env = project
    assert run(cli, env, "publish", "--all", "--create-service")[0] == 0
    code, report = run(cli, env, "drift")
    assert code == 0, report
    register(kfmr, "v2")
    set_property(kfmr, "v1", None)
    set_property(kfmr, "v2", PRODUCTION)
    code, report = run(cli, env, "drift")
    [moved] = [d for d in report["diagnostics"] if d["code"].startswith("D")]
    assert code == 1 and moved["code"] == "D007"
    assert "version v2 of 'delivery_time_kf' is in Production" in moved["message"]
    assert "shows version v1" in moved["message"]
    result = cli("init", "--from-registry", "delivery_time_kf", "--service", "kubeflow_models", env=env)
    assert result.exit_code == 0, result.stderr
    spec = result.stdout
    assert "registry: kubeflow" in spec and "# TODO: what marks the Production version" in spec
    assert "  - name: is_premium" in spec and "n_estimators: {}  # 50" in spec  # signature and run, via the plugin
    (folder / "model_specs" / "started.yaml").write_text(spec.replace("name: delivery_time_kf", "name: started"))
    assert cli("validate", env=env).exit_code == 0


def test_a_spec_for_another_registry_than_the_projects_fails_at_its_registry_line(cli, project, mlflow_server):
    folder, env = project
    project_file = folder / "mlmeta.toml"
    project_file.write_text(project_file.read_text().replace('registry = "kubeflow"', 'registry = "mlflow"'))
    code, report = run(cli, {**env, "MLFLOW_TRACKING_URI": mlflow_server.url}, "plan", "--all")
    assert code == 1
    [diagnostic] = report["models"][0]["diagnostics"]
    assert diagnostic["code"] == "S007" and "one project reads one registry" in diagnostic["message"]
    assert diagnostic["line"] == _line_of(folder / "model_specs" / "delivery_time_kf.yaml", "registry: kubeflow")


def test_specs_that_all_say_kubeflow_need_no_project_setting(cli, project):
    folder, env = project
    project_file = folder / "mlmeta.toml"
    project_file.write_text(project_file.read_text().replace('registry = "kubeflow"\n', ""))
    code, report = run(cli, env, "publish", "--all", "--create-service")
    assert code == 0 and report["models"][0]["status"] == "created", report
    assert report["models"][0]["production"]["registry"] == "kubeflow"


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))


def test_doctor_checks_the_registry_and_what_cannot_follow_kubeflow_says_so(cli, project, kfmr):
    folder, env = project
    result = cli("doctor", "--format", "json", env=env)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    registry = checks["Kubeflow Model Registry"]
    assert registry["status"] == "ok" and kfmr.url in registry["detail"] and "API v1" in registry["detail"]
    webhook = cli("webhook", "serve", env={**env, "MLMETA_WEBHOOK_SECRET": "s"})
    assert webhook.exit_code == 2 and "Kubeflow Model Registry sends none" in webhook.stderr
    everything = cli("watch", "--once", "--all-models", env=env)
    assert everything.exit_code == 2 and "--all-models" in everything.stderr


def test_a_watcher_waiting_out_an_outage_probes_the_kubeflow_registry(project, kfmr, sandbox):
    from mlmeta.config import load_settings
    from mlmeta.demo.services import free_port
    from mlmeta.triggers.outage import probe

    folder, env = project
    assert probe(load_settings(environ=env)) is None
    down = probe(load_settings(environ={**env, "MODEL_REGISTRY_URL": f"http://127.0.0.1:{free_port()}"}))
    assert down.startswith("Kubeflow Model Registry: ")


def test_the_plugin_sends_the_token_only_to_an_https_registry_as_the_docs_say(monkeypatch):
    """docs/kubeflow.md's claim, checked against the installed model-registry-mlflow plugin."""
    from model_registry_mlflow.api_client import ModelRegistryAPIClient
    from model_registry_mlflow.utils import parse_tracking_uri

    monkeypatch.setenv("MODEL_REGISTRY_TOKEN", "kf-token")
    monkeypatch.delenv("MODEL_REGISTRY_SECURE", raising=False)
    secure = {uri: parse_tracking_uri(uri)[2] for uri in ("modelregistry://h:8080", "modelregistry+http://h:8080",
                                                          "modelregistry+https://h:8443")}
    assert secure == {"modelregistry://h:8080": False, "modelregistry+http://h:8080": False,
                      "modelregistry+https://h:8443": True}
    monkeypatch.setenv("MODEL_REGISTRY_SECURE", "true")
    assert parse_tracking_uri("modelregistry://h:8080")[2] is True
    plain = ModelRegistryAPIClient("http://h:8080/api/model_registry/v1alpha3")._get_request_headers()
    assert "Authorization" not in plain
    tls = ModelRegistryAPIClient("https://h:8443/api/model_registry/v1alpha3")._get_request_headers()
    assert tls["Authorization"] == "Bearer kf-token"
    monkeypatch.delenv("MODEL_REGISTRY_TOKEN")
    if not os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token"):  # no pod token to fall back on
        from mlflow.exceptions import MlflowException

        with pytest.raises(MlflowException, match="Error getting authentication headers"):
            ModelRegistryAPIClient("https://h:8443/api/model_registry/v1alpha3")._get_request_headers()
    doc = (REPO / "docs" / "kubeflow.md").read_text(encoding="utf-8")
    assert "**The plugin sends the token only to an `https://` registry.**" in doc
    assert "`ModelRegistryAPIClient._get_request_headers`" in doc and "`parse_tracking_uri`" in doc
