"""mlmeta plan/publish end to end: a real MLflow server, the OpenMetadata sandbox, the CLI.

Nothing of mlmeta is mocked: the CLI builds the real adapters, which talk HTTP to both servers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
import requests

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, entity, publish, upstream, writes


@pytest.fixture
def model(registry, in_tmp):
    """A fresh registered model name and a spec for it under model_specs/."""
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    return name


# --- the Production gate ------------------------------------------------------------------------------


def test_alias_promotion_creates_the_model_with_mlflow_facts_and_lineage(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model))
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["created"] == 1
    [result] = out["models"]
    assert result["production"] == {"registered_model": model, "version": "1", "recognised_by": "alias",
                                    "marker": "champion"}
    stored = entity(sandbox, model)
    assert stored["algorithm"] == "GradientBoostingRegressor"
    assert {p["name"]: p.get("value") for p in stored["mlHyperParameters"]} == {
        "n_estimators": "20", "learning_rate": "0.1", "max_depth": "3"}
    assert "Estimates how long an order takes to arrive." in stored["description"]
    assert "(alias `champion`)" in stored["description"] and "`rmse`" in stored["description"]
    assert stored["mlStore"]["storage"].startswith("mlflow-artifacts:/")
    assert stored["sourceUrl"].endswith(f"#/models/{model}/versions/1")
    rating = stored["mlFeatures"][1]["featureSources"][0]
    assert (rating["name"], rating["dataType"]) == ("rating", "integer")
    # every source draws an edge, each with the column-level lineage from its columns to the features
    tables = "demo_pg.postgres.public"
    columns = {source: details["columnsLineage"] for source, details in upstream(sandbox, model).items()}
    assert columns == {
        f"{tables}.orders": [{"fromColumns": [f"{tables}.orders.last_update"],
                              "toColumn": f"mlflow_models.{model}.last_update_bucket"}],
        f"{tables}.restaurants": [{"fromColumns": [f"{tables}.restaurants.average_price", f"{tables}.restaurants.rating"],
                                   "toColumn": f"mlflow_models.{model}.restaurant_dimension"}],
        f"{tables}.users": [{"fromColumns": [f"{tables}.users.premium"],
                             "toColumn": f"mlflow_models.{model}.is_premium"}]}
    assert result["lineage"]["columns"][f"{tables}.orders"] == columns[f"{tables}.orders"]
    # the create draws the edges; one PUT each gives them their column-level details
    assert writes(sandbox) == {"POST /v1/mlmodels": 1, "PUT /v1/lineage": 3}


def test_stage_promotion_is_recognised_too(cli, env, sandbox, registry, model):
    registry.stage(model, registry.register(model))
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["production"]["recognised_by"] == "stage"
    assert "(stage `Production`)" in entity(sandbox, model)["description"]


def test_no_production_version_is_skipped_or_failed_on_request(cli, env, sandbox, registry, model):
    registry.register(model)  # registered, never promoted
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["skipped"] == 1
    assert out["models"][0]["message"].startswith("not in production")
    assert writes(sandbox) == {}
    code, out = publish(cli, env, "--all", "--require-production")
    assert code == 1 and out["summary"]["failed"] == 1


def test_a_missing_registered_model_fails_at_its_line(cli, env, sandbox, model, in_tmp):
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(SPEC.format(name=model, registered="never_registered"))
    code, out = publish(cli, env, "--all")
    assert code == 1
    [finding] = out["models"][0]["diagnostics"]
    assert (finding["code"], finding["line"], finding["column"]) == ("R004", 6, 21)
    assert "registered model 'never_registered' not found" in finding["message"]


# --- idempotence and updates --------------------------------------------------------------------------


def test_republishing_unchanged_writes_nothing_and_keeps_the_version(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    before = entity(sandbox, model)
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["unchanged"] == 1
    assert writes(sandbox) == {}
    # the version handshake, which provenance properties exist, and one page of the service's models:
    # no per-model read, no lineage read
    assert sandbox.stats()["requests"] == {"GET /v1/system/version": 1, "GET /v1/metadata/types/name/{key}": 1,
                                           "GET /v1/mlmodels": 1}
    after = entity(sandbox, model)
    assert (after["version"], after["updatedAt"]) == (before["version"], before["updatedAt"])


def test_an_update_whose_answer_was_lost_is_reported_as_updated(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(spec.read_text().replace("to arrive.", "to arrive at the door."))
    # the first PATCH lands, then its connection drops: the retry meets 412, the re-read finds our write
    sandbox.set_faults(drop_rate=1.0, phase="after", methods=["PATCH"], limit=1)
    code, out = publish(cli, env, "--all")
    assert code == 0, out
    [result] = out["models"]
    assert (result["status"], result["version_before"], result["version_after"]) == ("updated", 0.1, 0.2)
    assert "at the door" in entity(sandbox, model)["description"]
    assert sandbox.stats()["faulted"] == {"PATCH /v1/mlmodels/{key}": 1}


def test_a_newly_promoted_version_updates_the_model_once(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model, run=0))
    publish(cli, env, "--all")
    registry.alias(model, registry.register(model, run=1))
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["updated"] == 1
    assert (out["models"][0]["version_before"], out["models"][0]["version_after"]) == (0.1, 0.2)
    assert writes(sandbox) == {"PATCH /v1/mlmodels/{key}": 1}
    stored = entity(sandbox, model)
    assert {p["name"]: p.get("value") for p in stored["mlHyperParameters"]}["n_estimators"] == "40"
    assert "version [2]" in stored["description"]
    assert publish(cli, env, "--all")[1]["summary"]["unchanged"] == 1


def test_a_humans_description_edit_is_restored_by_patch_under_a_bot_token(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    stored = entity(sandbox, model)
    edited = requests.patch(f"{sandbox.api_url}/v1/mlmodels/{stored['id']}", timeout=10,
                            json=[{"op": "replace", "path": "/description", "value": "Edited in the UI."}],
                            headers={"Authorization": f"Bearer {sandbox.token('admin')}",
                                     "Content-Type": "application/json-patch+json"})
    assert edited.status_code == 200
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["updated"] == 1
    assert [c["field"] for c in out["models"][0]["changes"]] == ["description"]
    restored = entity(sandbox, model)
    assert restored["description"] == stored["description"] and restored["updatedBy"] == "mlmeta-bot"


def test_lineage_follows_sources_and_spares_edges_made_by_others(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    stored = entity(sandbox, model)
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.order_events", headers=admin, timeout=10).json()
    users = requests.get(f"{sandbox.api_url}/v1/tables/name/demo_pg.postgres.public.users", headers=admin,
                         timeout=10).json()
    for source in ({"id": topic["id"], "type": "topic"}, {"id": users["id"], "type": "table"}):
        requests.put(f"{sandbox.api_url}/v1/lineage", headers=admin, timeout=10, json={"edge": {
            "fromEntity": source, "toEntity": {"id": stored["id"], "type": "mlmodel"},
            "lineageDetails": {"description": "drawn by the data team"}}}).raise_for_status()
    # the users source goes away, a restaurants-only feature stays, and orders becomes a whole table
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    text = SPEC.format(name=model, registered=model)
    text = text.replace("      - column: demo_pg.postgres.public.users.premium\n",
                        "      - table: demo_pg.postgres.public.restaurants\n        column: type\n")
    spec.write_text(text.replace("signal", ""))
    code, out = publish(cli, env, "--all")
    assert code == 0
    edges = upstream(sandbox, model)
    assert set(edges) == {"demo_pg.postgres.public.orders", "demo_pg.postgres.public.restaurants",
                          "kafka.order_events", "demo_pg.postgres.public.users"}
    assert edges["demo_pg.postgres.public.users"]["description"] == "drawn by the data team"  # not ours: kept
    # now the spec adds a source from a table the model never had: mlmeta draws the edge itself
    spec.write_text(text.replace("        column: type\n", "        column: type\n"
                                 "      - column: demo_pg.postgres.public.orders.user_id\n"))
    publish(cli, env, "--all")
    removed = text.replace("      - column: demo_pg.postgres.public.orders.last_update\n",
                           "      - table: demo_pg.postgres.public.restaurants\n        column: restaurant_id\n")
    spec.write_text(removed)
    code, out = publish(cli, env, "--all")
    assert out["models"][0]["lineage"]["removed"] == ["demo_pg.postgres.public.orders"]
    assert "demo_pg.postgres.public.orders" not in upstream(sandbox, model)


def test_a_source_added_later_gets_an_edge_marked_as_mlmetas(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    without_users = SPEC.format(name=model, registered=model).replace(
        "    sources:\n      - column: demo_pg.postgres.public.users.premium\n", "    sources: []\n")
    spec.write_text(without_users)
    publish(cli, env, "--all")
    assert "demo_pg.postgres.public.users" not in upstream(sandbox, model)
    spec.write_text(SPEC.format(name=model, registered=model))
    code, out = publish(cli, env, "--all")
    assert out["models"][0]["lineage"]["added"] == ["demo_pg.postgres.public.users"]
    details = upstream(sandbox, model)["demo_pg.postgres.public.users"]
    assert "managed by mlmeta" in details["description"]
    spec.write_text(without_users)
    publish(cli, env, "--all")
    assert "demo_pg.postgres.public.users" not in upstream(sandbox, model)


# --- errors ---------------------------------------------------------------------------------------------


def test_a_missing_column_is_an_error_at_its_line_and_nothing_is_written(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(SPEC.format(name=model, registered=model).replace("column: average_price", "column: avg_price"))
    code, out = publish(cli, env, "--all")
    assert code == 1
    [finding] = [d for d in out["models"][0]["diagnostics"] if d["code"] == "R002"]
    assert (finding["line"], finding["column"]) == (21, 17)
    assert finding["message"] == ("features[1].sources[1].column: column 'avg_price' not found in table "
                                  "'demo_pg.postgres.public.restaurants'; did you mean 'average_price'?")
    assert writes(sandbox) == {}


def test_one_failing_spec_does_not_stop_the_others(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    broken = in_tmp / "model_specs" / "broken.yaml"
    broken.write_text(SPEC.format(name="broken", registered=model).replace("rating", "no_such_column"))
    invalid = in_tmp / "model_specs" / "invalid.yaml"
    invalid.write_text("mlmeta: 1\nname: x\nfeatures: 3\n")
    code, out = publish(cli, env, "--all")
    assert code == 1
    assert out["summary"] == {"created": 1, "updated": 0, "unchanged": 0, "deleted": 0, "skipped": 0, "failed": 2,
                              "openmetadata_requests": out["summary"]["openmetadata_requests"],
                              "mlflow_requests": out["summary"]["mlflow_requests"]}


def test_a_missing_service_is_reported_or_created_on_request(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(SPEC.format(name=model, registered=model).replace("service: mlflow_models", "service: new_svc"))
    code, out = publish(cli, env, "--all")
    assert code == 1 and out["models"][0]["diagnostics"][0]["code"] == "R008"
    planned = cli("plan", "--format", "json", env=env)
    assert planned.exit_code == 1 and json.loads(planned.stdout)["models"][0]["diagnostics"][0]["code"] == "R008"
    assert "rerun with --create-service" in json.loads(planned.stdout)["models"][0]["diagnostics"][0]["message"]
    sandbox.reset_stats()
    planned = cli("plan", "--create-service", env=env)  # which plan takes, and shows the service it would create
    assert planned.exit_code == 0 and f"new_svc.{model} [create]" in planned.stdout
    assert "~ ML model service 'new_svc' created first (--create-service)" in planned.stdout
    assert writes(sandbox) == {}
    code, out = publish(cli, env, "--all", "--create-service")
    assert code == 0 and out["models"][0]["model"] == f"new_svc.{model}"


def test_signature_mismatches_warn_and_fail_with_strict(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(SPEC.format(name=model, registered=model).replace("name: is_premium", "name: premium_flag"))
    code, out = publish(cli, env, "--all", "--strict")
    assert code == 1
    codes = sorted(d["code"] for d in out["models"][0]["diagnostics"])
    assert codes == ["R006", "R007"]
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["created"] == 1
    assert {d["severity"] for d in out["models"][0]["diagnostics"]} == {"warning"}


# --- configuration ----------------------------------------------------------------------------------------


def test_missing_and_wrong_settings_exit_2_without_leaking_the_token(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model))
    missing = cli("publish", "--all", env={**env, "OPENMETADATA_HOST": ""})
    assert missing.exit_code == 2 and "OPENMETADATA_HOST: not set" in missing.stderr
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.not-a-valid-signature-at-all"
    wrong = cli("publish", "--all", env={**env, "OPENMETADATA_JWT_TOKEN": token})
    assert wrong.exit_code == 2 and "rejected the token" in wrong.stderr, wrong.stdout + wrong.stderr
    assert token not in wrong.stdout + wrong.stderr


def test_a_server_older_than_1_5_is_refused_naming_the_range_and_the_setting(cli, env, model):
    from mlmeta.demo.peers import web_server

    answer = b'{"version": "1.4.8", "revision": "x", "timestamp": 0}'
    with web_server(200, answer, "application/json") as old:
        result = cli("publish", "--all", env={**env, "OPENMETADATA_HOST": old})
    assert result.exit_code == 2
    assert "answers version '1.4.8'" in result.stderr and "older than 1.5" in result.stderr
    assert "OpenMetadata 1.5 to 2.0.x" in result.stderr and "OPENMETADATA_HOST" in result.stderr


def test_publish_needs_to_be_told_which_specs(cli, env):
    result = cli("publish", env=env)
    assert result.exit_code == 2 and "PATHS, --all, or --changed-since" in result.stderr


# --- plan, formats, change selection ------------------------------------------------------------------------


def test_plan_shows_field_changes_and_writes_nothing(cli, env, sandbox, registry, model):
    registry.alias(model, registry.register(model))
    result = cli("plan", env=env)
    assert result.exit_code == 0
    assert f"mlflow_models.{model} [create]" in result.stdout
    assert "~ feature 'is_premium' added" in result.stdout
    assert "+ lineage from demo_pg.postgres.public.users" in result.stdout
    assert writes(sandbox) == {}
    publish(cli, env, "--all")
    registry.alias(model, registry.register(model, run=1))
    result = cli("publish", "--dry-run", env=env)
    assert "[update]" in result.stdout and "hyperparameter 'n_estimators': value changed" in result.stdout
    assert entity(sandbox, model)["version"] == 0.1


def test_github_format_writes_annotations_summary_and_outputs(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    summary, outputs = in_tmp / "summary.md", in_tmp / "outputs"
    result = cli("publish", "--all", "--format", "github",
                 env={**env, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)})
    assert result.exit_code == 0
    lines = outputs.read_text().splitlines()
    assert lines[:6] == ["created=1", "updated=0", "unchanged=0", "deleted=0", "skipped=0", "failed=0"]
    assert lines[6].startswith("summary<<MLMETA_EOF_")  # the summary's Markdown too, for a pull-request comment
    assert f"| `mlflow_models.{model}` | created | 0.1 |" in summary.read_text()
    assert summary.read_text().startswith("### mlmeta publish: 1 created, 0 updated, 0 unchanged, 0 deleted, 0 skipped, "
                                          "0 failed")


def test_changed_since_publishes_only_changed_specs(cli, env, sandbox, registry, in_tmp):
    import git

    names = [f"delivery_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        registry.alias(name, registry.register(name))
        write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    repo = git.Repo.init(in_tmp, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    repo.index.add([f"model_specs/{n}.yaml" for n in names])
    repo.index.commit("specs")
    repo.create_head("change").checkout()
    spec = in_tmp / "model_specs" / f"{names[1]}.yaml"
    spec.write_text(spec.read_text().replace("Estimates how long", "Estimates precisely how long"))
    repo.index.add([f"model_specs/{names[1]}.yaml"])
    commit = repo.index.commit("better words")
    code, out = publish(cli, env, "--changed-since", "main")
    assert [m["model"] for m in out["models"]] == [f"mlflow_models.{names[1]}"]
    assert f"at commit `{commit.hexsha[:12]}`" in entity(sandbox, names[1])["description"]


# --- resilience ---------------------------------------------------------------------------------------------


def test_a_30_percent_failure_rate_still_publishes_every_spec_exactly_once(cli, env, sandbox, registry, in_tmp):
    names = [f"flaky_{uuid.uuid4().hex[:6]}_{i}" for i in range(8)]
    for name in names:
        registry.alias(name, registry.register(name))
        write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    sandbox.set_faults(failure_rate=0.3, statuses=[503, 429], retry_after=0, phase="either", seed=11)
    code, out = publish(cli, env, "--all")
    sandbox.clear_faults()
    assert code == 0, [(m["model"], m["message"]) for m in out["models"] if m["status"] == "failed"]
    assert out["summary"]["created"] == len(names)
    assert sandbox.stats()["faulted_total"] > 0
    listed = requests.get(f"{sandbox.api_url}/v1/mlmodels?service=mlflow_models", timeout=10,
                          headers={"Authorization": f"Bearer {sandbox.token()}"}).json()["data"]
    assert sorted(m["name"] for m in listed) == sorted(names)  # none duplicated, none missing
    assert all(m["version"] == 0.1 for m in listed)
    code, out = publish(cli, env, "--all")
    assert out["summary"]["unchanged"] == len(names)


def test_two_publishers_at_once_leave_one_consistent_model(env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    command = [sys.executable, "-m", "mlmeta", "publish", "--all", "--format", "json"]
    runs = [subprocess.Popen(command, cwd=in_tmp, env={**__import__("os").environ, **env}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [json.loads(p.communicate(timeout=120)[0])["summary"] for p in runs]
    assert all(p.returncode == 0 for p in runs)
    assert sorted((o["created"], o["unchanged"]) for o in outcomes) in ([(0, 1), (1, 0)], [(1, 0), (1, 0)])
    stored = entity(sandbox, model)
    assert stored["version"] == 0.1 and len(stored["mlFeatures"]) == 3
    listed = requests.get(f"{sandbox.api_url}/v1/mlmodels?service=mlflow_models", timeout=10,
                          headers={"Authorization": f"Bearer {sandbox.token()}"}).json()["data"]
    assert [m["name"] for m in listed] == [model]


# --- what the server does that mlmeta must stand right under (issue: stand-in fidelity, round 2) --------


def test_a_tag_typo_is_a_finding_at_its_line_and_nothing_is_written(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(SPEC.format(name=model, registered=model).replace(
        "    algorithm: PCA\n", "    algorithm: PCA\n    tags: [PII.Sensitiv]\n"))
    code, out = publish(cli, env, "--all")
    assert code == 1
    [finding] = [d for d in out["models"][0]["diagnostics"] if d["code"] == "R009"]
    assert (finding["line"], finding["column"]) == (17, 12) and "tag 'PII.Sensitiv' not found" in finding["message"]
    assert writes(sandbox) == {}


def test_an_edge_someone_put_without_details_is_not_mlmetas(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    stored = entity(sandbox, model)
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.order_events", timeout=10,
                         headers={"Authorization": f"Bearer {sandbox.token('admin')}"}).json()
    requests.put(f"{sandbox.api_url}/v1/lineage", timeout=10, headers={"Authorization": f"Bearer {sandbox.token('admin')}"},
                 json={"edge": {"fromEntity": {"id": topic["id"], "type": "topic"},
                                "toEntity": {"id": stored["id"], "type": "mlmodel"}}}).raise_for_status()
    assert upstream(sandbox, model)["kafka.order_events"]["source"] == "Manual"  # the server filled details in
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(spec.read_text().replace("to arrive.", "to arrive at the door."))
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["removed"] == []
    assert "kafka.order_events" in upstream(sandbox, model)


def test_a_soft_deleted_source_fails_the_spec_until_it_drops_the_source(cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    users = requests.get(f"{sandbox.api_url}/v1/tables/name/demo_pg.postgres.public.users", headers=admin,
                         timeout=10).json()
    requests.delete(f"{sandbox.api_url}/v1/tables/{users['id']}", headers=admin, timeout=10).raise_for_status()
    assert "demo_pg.postgres.public.users" in upstream(sandbox, model)  # lineage reads still show it
    # the README's word: the unchanged path looks no source up; drift and --refresh see the deletion
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["status"] == "unchanged"
    found = json.loads(cli("drift", "--format", "json", env=env).stdout)["diagnostics"]
    assert [(d["code"], d["line"]) for d in found] == [("D002", 25)]
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all", "--refresh")
    assert code == 1
    [finding] = out["models"][0]["diagnostics"]
    assert (finding["code"], finding["line"]) == ("R003", 25) and "is deleted" in finding["message"]
    assert writes(sandbox) == {}
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    spec.write_text(spec.read_text().replace("    sources:\n      - column: demo_pg.postgres.public.users.premium\n",
                                             "    sources: []\n"))
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["removed"] == ["demo_pg.postgres.public.users"]
    assert "demo_pg.postgres.public.users" not in upstream(sandbox, model)


def test_the_registry_address_spelled_with_a_trailing_slash_or_capitals_is_the_same_registry(
        cli, env, sandbox, registry, model):
    """Switching between spellings of one MLflow URL used to rewrite every model, blaming the spec."""
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    stamp = entity(sandbox, model)["sourceHash"]
    sandbox.reset_stats()
    for uri in (env["MLFLOW_TRACKING_URI"] + "/", env["MLFLOW_TRACKING_URI"].replace("http://", "HTTP://") + "//"):
        code, out = publish(cli, {**env, "MLFLOW_TRACKING_URI": uri}, "--all")
        assert code == 0 and out["models"][0]["status"] == "unchanged" and out["models"][0]["message"] is None, uri
    assert writes(sandbox) == {} and entity(sandbox, model)["sourceHash"] == stamp


def test_a_change_that_only_moves_the_fingerprint_keeps_the_version_and_then_costs_nothing(
        cli, env, sandbox, registry, model, in_tmp):
    registry.alias(model, registry.register(model))
    publish(cli, env, "--all")
    spec = in_tmp / "model_specs" / f"{model}.yaml"
    # the default alias, now said explicitly: the same model, but the spec (and its fingerprint) changed
    spec.write_text(spec.read_text().replace("  registered_model:", "  alias: champion\n  registered_model:"))
    plan = cli("plan", env=env).stdout  # nothing anyone reads would change: not an update, and it says why
    assert "[unchanged]" in plan and "fingerprint only: the spec's text changed" in plan
    assert "would be 0 created, 0 updated, 1 unchanged" in plan
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["changes"] == []  # mlmeta's bookkeeping is not shown as a change
    assert out["models"][0]["status"] == "unchanged" and "fingerprint only" in out["models"][0]["message"]
    assert writes(sandbox) == {"PATCH /v1/mlmodels/{key}": 1}
    stored = entity(sandbox, model)
    assert (stored["version"], stored["updatedBy"]) == (0.1, "mlmeta-bot")  # stamped, not bumped
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert out["summary"]["unchanged"] == 1 and writes(sandbox) == {}
