"""One install of mlmeta against every OpenMetadata release it supports: publish, plan, drift,
prune and setup, end to end, against the sandbox playing each release (its own schemas, its own
behaviour, its known write bugs), a real MLflow server and the CLI.

1.5 (one domain, no If-Match, sourceHash moves the version), 1.8 (the last with one domain), 1.9
and 1.12 (If-Match honoured, and the bug of issue 28876), 1.13.6 (fixed) and 2.0 (content ETags,
strict names).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest
import requests

from mlmeta.catalog.releases import capabilities
from mlmeta.standins.openmetadata import Sandbox
from tests.helpers.files import write
from tests.helpers.publishing import SPEC, WRITES
from tests.helpers.releases import NEWEST_PLAYED, OLDEST_PLAYED, newest_patch

# the oldest and the newest, and the minors on each side of a rule's boundary (releases.RULES)
RELEASES = [OLDEST_PLAYED, *(newest_patch(minor) for minor in ((1, 8), (1, 9), (1, 12), (1, 13))), NEWEST_PLAYED]
DOMAIN_SPEC = SPEC + "domain: Operations\nowners:\n  users: [alice]\n"


@pytest.fixture(scope="module", params=RELEASES)
def release_server(request):
    with Sandbox(server_version=request.param) as server:
        yield server


@pytest.fixture
def served(release_server, mlflow_server, in_tmp):
    """The release's sandbox, fresh, and the environment mlmeta needs to reach it as its bot."""
    release_server.reset()
    return release_server, {"OPENMETADATA_HOST": release_server.url,
                            "OPENMETADATA_JWT_TOKEN": release_server.token("mlmeta-bot"),
                            "MLFLOW_TRACKING_URI": mlflow_server.url}


@pytest.fixture
def model(registry, in_tmp):
    name = f"compat_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    write(in_tmp / "model_specs" / f"{name}.yaml", DOMAIN_SPEC.format(name=name, registered=name))
    return name


def mlmeta(cli, env, *args) -> tuple[int, dict, str]:
    result = cli(*args, "--format", "json", env=env)
    try:
        return result.exit_code, json.loads(result.stdout), result.stderr
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def held(server: Sandbox, name: str) -> dict:
    """The model as this release serves it to an admin, with the release's own domain field."""
    domain = capabilities(server.version).domain_field
    answer = requests.get(f"{server.api_url}/v1/mlmodels/name/mlflow_models.{name}",
                          params={"fields": f"owners,tags,sourceHash,extension,{domain}"},
                          headers={"Authorization": f"Bearer {server.token('admin')}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def writes(server: Sandbox) -> dict[str, int]:
    return {k: v for k, v in server.stats()["requests"].items() if k.startswith(WRITES)}


def test_publish_creates_the_model_in_the_releases_shape_then_writes_nothing(cli, served, model):
    server, env = served
    code, out, _ = mlmeta(cli, env, "publish", "--all")
    assert code == 0 and out["summary"]["created"] == 1, out
    assert out["openmetadata"]["version"] == server.version
    stored = held(server, model)
    domains = stored.get("domains") or [stored.get("domain")]
    assert [d["name"] for d in domains] == ["Operations"] and [o["name"] for o in stored["owners"]] == ["alice"]
    assert {f["name"] for f in stored["mlFeatures"]} == {"last_update_bucket", "restaurant_dimension", "is_premium"}
    server.reset_stats()
    code, out, _ = mlmeta(cli, env, "publish", "--all")
    assert code == 0 and out["summary"]["unchanged"] == 1 and writes(server) == {}


def test_a_feature_change_is_stored_and_checked_on_every_release(cli, served, model, in_tmp):
    server, env = served
    mlmeta(cli, env, "publish", "--all")
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(spec.read_text().replace("algorithm: PCA", "algorithm: UMAP")
                    .replace("to arrive.", "to arrive at the door."))
    result = cli("publish", "--all", "-v", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "[updated]" in result.stdout
    release = capabilities(server.version)
    # -v says which release and which behaviours, and that the sandbox plays it
    assert replace(release, sandbox=True).summary() in result.stderr
    workaround = "re-reads each model's version right before its PATCH"
    assert (workaround in result.stderr) == (not release.has("if_match") or
                                             release.has("if_match_drops_entity_fields"))
    stored = held(server, model)
    features = {f["name"]: f for f in stored["mlFeatures"]}
    assert features["restaurant_dimension"]["featureAlgorithm"] == "UMAP"  # really stored, not echoed
    assert "at the door" in stored["description"]
    server.reset_stats()
    code, out, _ = mlmeta(cli, env, "publish", "--all")
    assert code == 0 and out["summary"]["unchanged"] == 1 and writes(server) == {}


def test_plan_and_drift_see_the_catalog_in_step_then_a_hand_edit(cli, served, model):
    server, env = served
    mlmeta(cli, env, "publish", "--all")
    code, out, _ = mlmeta(cli, env, "plan", "--all")
    assert code == 0 and out["summary"]["unchanged"] == 1
    code, out, _ = mlmeta(cli, env, "drift")
    assert code == 0 and out["summary"]["drifted"] == 0, out
    stored = held(server, model)
    edit = requests.patch(f"{server.api_url}/v1/mlmodels/{stored['id']}", timeout=10,
                          json=[{"op": "add", "path": "/description", "value": "Edited in the UI."}],
                          headers={"Authorization": f"Bearer {server.token('admin')}",
                                   "Content-Type": "application/json-patch+json"})
    assert edit.status_code == 200, edit.text
    code, out, _ = mlmeta(cli, env, "drift")
    assert code == 1 and out["summary"]["drifted"] == 1
    assert any("admin" in d["message"] for d in out["diagnostics"])
    code, out, _ = mlmeta(cli, env, "plan", "--all")
    assert out["summary"]["updated"] == 1
    assert [c["field"] for c in out["models"][0]["changes"]] == ["description"]


def test_prune_soft_deletes_the_model_whose_spec_is_gone(cli, served, model, in_tmp):
    server, env = served
    mlmeta(cli, env, "setup")  # the owner's property: prune deletes only models the project is recorded to own
    mlmeta(cli, env, "publish", "--all")
    (in_tmp / "model_specs" / f"{model}.yaml").unlink()
    write(in_tmp / "mlmeta.toml", 'service = "mlflow_models"\n')  # the service whose orphans to look for
    code, out, _ = mlmeta(cli, env, "publish", "--all", "--prune")
    assert code == 0 and out["summary"]["deleted"] == 1, out
    answer = requests.get(f"{server.api_url}/v1/mlmodels/name/mlflow_models.{model}?include=all",
                          headers={"Authorization": f"Bearer {server.token('admin')}"}, timeout=10)
    assert answer.json()["deleted"] is True


def test_setup_defines_what_the_release_has_and_publish_writes_it(cli, served, model):
    server, env = served
    code, out, _ = mlmeta(cli, env, "setup")
    assert code == 0 and out["summary"]["created"] == 10, out
    code, out, _ = mlmeta(cli, env, "publish", "--all")
    assert code == 0 and out["summary"]["created"] == 1
    extension = held(server, model)["extension"]
    assert extension["mlflowRegisteredModel"] == model and extension["mlflowAlias"] == "champion"
    assert extension["mlmetaProject"]  # the owner, recorded on every release
    assert [r["metric"] for r in extension["mlflowMetrics"]["rows"]]
    code, out, _ = mlmeta(cli, env, "setup")
    assert code == 0 and out["summary"]["exists"] == 10 and out["summary"]["created"] == 0


def test_a_saved_plan_is_applied_exactly_then_refused_after_an_edit_on_every_release(cli, served, model, in_tmp):
    server, env = served
    mlmeta(cli, env, "publish", "--all")
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(spec.read_text().replace("algorithm: PCA", "algorithm: UMAP"))
    assert cli("plan", "-o", "plan.json", env=env).exit_code == 0
    [entry] = json.loads((in_tmp / "plan.json").read_text())["models"]
    # the ETag where the release sends one (1.9+); before, the version and the update time hold the plan
    assert (entry["catalog"]["etag"] is not None) == capabilities(server.version).has("if_match")
    server.reset_stats()
    code, out, _ = mlmeta(cli, env, "publish", "--plan", "plan.json")
    assert code == 0 and out["summary"]["updated"] == 1, out
    assert writes(server) == {"PATCH /v1/mlmodels/{key}": 1}  # the plan's one PATCH (edges unchanged)
    assert {f["name"]: f.get("featureAlgorithm") for f in held(server, model)["mlFeatures"]}[
        "restaurant_dimension"] == "UMAP"
    spec.write_text(spec.read_text().replace("algorithm: UMAP", "algorithm: TSNE"))
    assert cli("plan", "-o", "plan.json", env=env).exit_code == 0
    edit = requests.patch(f"{server.api_url}/v1/mlmodels/{held(server, model)['id']}", timeout=10,
                          json=[{"op": "add", "path": "/displayName", "value": "Edited in the UI"}],
                          headers={"Authorization": f"Bearer {server.token('admin')}",
                                   "Content-Type": "application/json-patch+json"})
    assert edit.status_code == 200, edit.text
    server.reset_stats()
    code, out, _ = mlmeta(cli, env, "publish", "--plan", "plan.json")
    assert code == 1 and "the catalog changed since the plan" in out["models"][0]["message"]
    assert writes(server) == {}


# --- what only some releases do --------------------------------------------------------------------


def test_before_1_5_7_the_metrics_property_is_unavailable_and_the_rest_works(cli, mlflow_server, registry, model):
    with Sandbox(server_version="1.5.3") as server:
        env = {"OPENMETADATA_HOST": server.url, "OPENMETADATA_JWT_TOKEN": server.token("mlmeta-bot"),
               "MLFLOW_TRACKING_URI": mlflow_server.url}
        code, out, _ = mlmeta(cli, env, "setup")
        assert code == 0 and out["summary"]["created"] == 8 and out["summary"]["unavailable"] == 2
        metrics, datasets = [p for p in out["properties"] if p["status"] == "unavailable"]
        assert metrics["name"] == "mlflowMetrics" and "from 1.5.7" in metrics["message"]
        assert datasets["name"] == "mlflowTrainingDatasets"
        code, out, _ = mlmeta(cli, env, "publish", "--all")
        assert code == 0 and out["summary"]["created"] == 1
        assert "mlflowMetrics" not in held(server, model)["extension"]
        assert "mlflowVersion" in held(server, model)["extension"]


def test_a_write_the_server_accepts_but_does_not_store_fails_the_spec(cli, mlflow_server, registry, model, in_tmp):
    """A 2.0 server that drops ML-model fields from If-Match PATCHes, as 1.9 to 1.13.1 did, without
    mlmeta knowing: the answer echoes the change, the check reads the model back, the spec fails
    naming the field and the release, and the next run writes it again."""
    with Sandbox(server_version=NEWEST_PLAYED, quirks=frozenset({"if_match_drops_entity_fields"})) as server:
        env = {"OPENMETADATA_HOST": server.url, "OPENMETADATA_JWT_TOKEN": server.token("mlmeta-bot"),
               "MLFLOW_TRACKING_URI": mlflow_server.url}
        mlmeta(cli, env, "publish", "--all")
        spec = in_tmp / "model_specs" / f"{model}.yaml"
        spec.write_text(spec.read_text().replace("algorithm: PCA", "algorithm: UMAP"))
        code, out, _ = mlmeta(cli, env, "publish", "--all")
        assert code == 1 and out["summary"]["failed"] == 1 and out["summary"]["updated"] == 0
        [finding] = out["models"][0]["diagnostics"]
        assert finding["code"] == "P002" and "OpenMetadata 2.0.7" in finding["message"]
        assert "does not hold sourceHash, mlFeatures (read back" in finding["message"] and "marked the model incomplete" in finding["message"]
        features = {f["name"]: f for f in held(server, model)["mlFeatures"]}
        assert features["restaurant_dimension"]["featureAlgorithm"] == "PCA"  # never reported as updated
        # the server mended, the next run finds the model marked and finishes the job
        server.app.release = server.app.state.release = capabilities(NEWEST_PLAYED)
        code, out, _ = mlmeta(cli, env, "publish", "--all")
        assert code == 0 and out["summary"]["updated"] == 1
        features = {f["name"]: f for f in held(server, model)["mlFeatures"]}
        assert features["restaurant_dimension"]["featureAlgorithm"] == "UMAP"


def test_a_newer_release_than_any_known_is_used_as_the_newest_with_one_warning(cli, mlflow_server, registry, model):
    with Sandbox(server_version="2.1.0") as server:
        env = {"OPENMETADATA_HOST": server.url, "OPENMETADATA_JWT_TOKEN": server.token("mlmeta-bot"),
               "MLFLOW_TRACKING_URI": mlflow_server.url}
        code, out, stderr = mlmeta(cli, env, "publish", "--all")
        assert code == 0 and out["summary"]["created"] == 1, stderr
        assert stderr.count("OpenMetadata 2.1.0 is newer than any release mlmeta knows") == 1
        assert out["openmetadata"]["behaves_as"] == "2.0.x" and out["openmetadata"]["newer_than_known"]
