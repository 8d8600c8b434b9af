"""Feature sources beyond tables, end to end (real MLflow, the sandbox): topics and their schema
fields, containers' data models, dashboard data models and search indexes; the column-level
lineage mlmeta draws from each, kept in step as the spec changes."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.helpers.files import write
from tests.helpers.publishing import entity, publish, upstream, writes

SPEC = """\
mlmeta: 1
name: {name}
service: mlflow_models
mlflow:
  registered_model: {name}
features:
  - name: last_update_bucket
    type: categorical
    sources:
      - topic: kafka.events
        field: context.page
      - topic: kafka.events
        field: ts
  - name: restaurant_dimension
    type: numerical
    sources:
      - topic: kafka.EVENTS_IN_10_MINUTES_WINDOW
        field: PRODUCT_VIEWS
      - container: s3.ml-training.bot_detector
        column: is_bot
      - dashboard_data_model: superset.model.bot_traffic
        column: bot_share
  - name: is_premium
    type: categorical
    sources:
      - search_index: elasticsearch.user_profiles
        field: address.city
      - topic: kafka."mysql.demo.users"
"""

MODEL = "mlflow_models.{name}"


@pytest.fixture
def model(registry, in_tmp):
    """A fresh registered model name (its MLflow versions are the test model's)."""
    return f"streams_{uuid.uuid4().hex[:8]}"


def columns_of(sandbox, name):
    return {source: (details or {}).get("columnsLineage") for source, details in upstream(sandbox, name).items()}


def test_every_source_kind_is_resolved_typed_and_drawn_to_the_feature(cli, env, sandbox, registry, model, in_tmp):
    spec = write(in_tmp / "model_specs" / f"{model}.yaml", SPEC.format(name=model))
    registry.alias(model, registry.register(model))
    code, out = publish(cli, env, "--all")
    assert code == 0, out
    stored = entity(sandbox, model)
    sources = {(f["name"], s["dataSource"]["type"], s["name"]): s.get("dataType")
               for f in stored["mlFeatures"] for s in f.get("featureSources") or []}
    assert sources == {
        ("last_update_bucket", "topic", "context.page"): "string",
        ("last_update_bucket", "topic", "ts"): "integer",
        ("restaurant_dimension", "topic", "PRODUCT_VIEWS"): "integer",
        ("restaurant_dimension", "container", "is_bot"): "boolean",
        ("restaurant_dimension", "dashboardDataModel", "bot_share"): "number",
        ("is_premium", "searchIndex", "address.city"): "string",
        ("is_premium", "topic", "mysql.demo.users"): None,  # a whole topic: no child, no type
    }
    feature = MODEL.format(name=model)
    assert columns_of(sandbox, model) == {
        "kafka.events": [{"fromColumns": ["kafka.events.context.page", "kafka.events.ts"],
                          "toColumn": f"{feature}.last_update_bucket"}],
        "kafka.EVENTS_IN_10_MINUTES_WINDOW": [{"fromColumns": ["kafka.EVENTS_IN_10_MINUTES_WINDOW.PRODUCT_VIEWS"],
                                               "toColumn": f"{feature}.restaurant_dimension"}],
        "s3.ml-training.bot_detector": [{"fromColumns": ["s3.ml-training.bot_detector.is_bot"],
                                         "toColumn": f"{feature}.restaurant_dimension"}],
        "superset.model.bot_traffic": [{"fromColumns": ["superset.model.bot_traffic.bot_share"],
                                        "toColumn": f"{feature}.restaurant_dimension"}],
        "elasticsearch.user_profiles": [{"fromColumns": ["elasticsearch.user_profiles.address.city"],
                                         "toColumn": f"{feature}.is_premium"}],
        'kafka."mysql.demo.users"': None,  # drawn by the create, whole topic: nothing to add
    }

    # a field moves to another feature: plan shows the redrawn mapping, publish redraws only that edge
    spec.write_text(SPEC.format(name=model).replace("        field: ts\n", "").replace(
        "        field: address.city\n", "        field: address.city\n      - topic: kafka.events\n"
                                        "        field: ts\n"))
    plan = cli("plan", "model_specs", env=env)
    assert plan.exit_code == 0, plan.stdout
    assert ("~ lineage from kafka.events (columns: ts -> is_premium; context.page -> last_update_bucket)"
            in plan.stdout), plan.stdout
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["lineage"]["updated"] == ["kafka.events"]
    assert writes(sandbox) == {"PATCH /v1/mlmodels/{key}": 1, "PUT /v1/lineage": 1}
    assert columns_of(sandbox, model)["kafka.events"] == [
        {"fromColumns": ["kafka.events.ts"], "toColumn": f"{feature}.is_premium"},
        {"fromColumns": ["kafka.events.context.page"], "toColumn": f"{feature}.last_update_bucket"}]

    # nothing changed: nothing written
    sandbox.reset_stats()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["summary"]["unchanged"] == 1 and writes(sandbox) == {}


def test_a_missing_field_is_reported_at_its_line_and_nothing_is_written(cli, env, sandbox, registry, model, in_tmp):
    write(in_tmp / "model_specs" / f"{model}.yaml",
          SPEC.format(name=model).replace("field: context.page", "field: context.pages"))
    registry.alias(model, registry.register(model))
    sandbox.reset_stats()
    result = cli("publish", "--all", env=env)
    assert result.exit_code == 1
    assert (f"model_specs/{model}.yaml:11:16: error R002 features[0].sources[0].field: field 'context.pages' not "
            "found in topic 'kafka.events'; did you mean 'context.page'?") in result.stdout, result.stdout
    assert writes(sandbox) == {}


def test_the_server_keeps_only_column_mappings_whose_ends_exist(sandbox):
    """The contract mlmeta relies on, checked on the sandbox: a mapping naming a child the entity does
    not have is dropped without an error (the server's LineageRepository.validateLineageDetails)."""
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    api = sandbox.api_url
    topic = requests.get(f"{api}/v1/topics/name/kafka.events", headers=admin, timeout=10).json()
    index = requests.get(f"{api}/v1/searchIndexes/name/elasticsearch.user_profiles", headers=admin, timeout=10).json()
    mapping = [{"fromColumns": ["kafka.events.user_id", "kafka.events.nope"],
                "toColumn": "elasticsearch.user_profiles.user_id"},
               {"fromColumns": ["kafka.events.ts"], "toColumn": "elasticsearch.user_profiles.missing"},
               {"fromColumns": ["kafka.events.nope"], "toColumn": "elasticsearch.user_profiles.country"}]
    answer = requests.put(f"{api}/v1/lineage", headers=admin, timeout=10, json={"edge": {
        "fromEntity": {"id": topic["id"], "type": "topic"}, "toEntity": {"id": index["id"], "type": "searchIndex"},
        "lineageDetails": {"columnsLineage": mapping}}})
    assert answer.status_code == 200
    graph = requests.get(f"{api}/v1/lineage/searchIndex/name/elasticsearch.user_profiles?upstreamDepth=1",
                         headers=admin, timeout=10).json()
    [edge] = [e for e in graph["upstreamEdges"] if e["fromEntity"] == topic["id"]]
    assert edge["lineageDetails"]["columnsLineage"] == [
        {"fromColumns": ["kafka.events.user_id"], "toColumn": "elasticsearch.user_profiles.user_id"}]
    assert topic["messageSchema"]["schemaFields"][3]["children"][0]["fullyQualifiedName"] == "kafka.events.context.page"


def test_drift_reports_column_lineage_edited_in_the_catalog(cli, env, sandbox, registry, model, in_tmp):
    write(in_tmp / "model_specs" / f"{model}.yaml", SPEC.format(name=model))
    registry.alias(model, registry.register(model))
    assert publish(cli, env, "--all")[0] == 0
    # someone edits the mapping of mlmeta's edge in the UI (the marker stays in the description)
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    topic = requests.get(f"{sandbox.api_url}/v1/topics/name/kafka.events", headers=admin, timeout=10).json()
    details = upstream(sandbox, model)["kafka.events"]
    details = {"description": details["description"], "columnsLineage": [
        {"fromColumns": ["kafka.events.user_id"], "toColumn": f"{MODEL.format(name=model)}.last_update_bucket"}]}
    requests.put(f"{sandbox.api_url}/v1/lineage", headers=admin, timeout=10, json={"edge": {
        "fromEntity": {"id": topic["id"], "type": "topic"},
        "toEntity": {"id": entity(sandbox, model)["id"], "type": "mlmodel"}, "lineageDetails": details}}
    ).raise_for_status()
    result = cli("drift", env=env)
    assert result.exit_code == 1
    assert (f"warning D011 features: lineage from kafka.events to {MODEL.format(name=model)} differs from the "
            "spec's (its column-level mapping or what it stands for); publish --refresh redraws it") in result.stdout, \
        result.stdout
    code, out = publish(cli, env, "--all", "--refresh")
    assert code == 0 and out["models"][0]["lineage"]["updated"] == ["kafka.events"]
    assert cli("drift", env=env).exit_code == 0


def test_drift_follows_a_topic_schema_that_changed(cli, env, sandbox, registry, model, in_tmp):
    write(in_tmp / "model_specs" / f"{model}.yaml", SPEC.format(name=model))
    registry.alias(model, registry.register(model))
    assert publish(cli, env, "--all")[0] == 0
    # the schema registry moved on: context.page is gone and ts became a string
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    fields = [{"name": "user_id", "dataType": "INT"}, {"name": "event", "dataType": "STRING"},
              {"name": "ts", "dataType": "STRING"},
              {"name": "context", "dataType": "RECORD", "children": [{"name": "user_agent", "dataType": "STRING"}]}]
    answer = requests.put(f"{sandbox.api_url}/v1/topics", headers=admin, timeout=10, json={
        "name": "events", "service": "kafka", "partitions": 1,
        "messageSchema": {"schemaType": "Avro", "schemaText": "", "schemaFields": fields}})
    assert answer.status_code == 200 and answer.headers["X-OpenMetadata-Change"] == "entityUpdated"
    result = cli("drift", env=env)
    assert result.exit_code == 1
    spec = f"model_specs/{model}.yaml"
    assert (f"{spec}:11:16: warning D003 features[0].sources[0].field: field 'context.page' not found in topic "
            "'kafka.events'; did you mean 'context'?") in result.stdout, result.stdout
    assert (f"{spec}:12:9: warning D004 features[0].sources[1]: kafka.events.ts is now STRING (string); the model "
            "records integer") in result.stdout, result.stdout
    assert "D011" not in result.stdout  # the mapping differs because a field went: said once, as D003


def test_a_create_whose_edges_fail_is_finished_by_the_next_run(cli, env, sandbox, registry, model, in_tmp):
    write(in_tmp / "model_specs" / f"{model}.yaml", SPEC.format(name=model))
    registry.alias(model, registry.register(model))
    sandbox.set_faults(failure_rate=1.0, statuses=[500], methods=["PUT"], path_pattern="/v1/lineage")
    code, out = publish(cli, env, "--all")
    assert code == 1 and out["models"][0]["status"] == "failed"
    stored = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/{MODEL.format(name=model)}?fields=sourceHash",
                          headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()
    assert stored["sourceHash"] == "mlmeta:incomplete"  # not the fingerprint: the next run will not trust it
    sandbox.clear_faults()
    code, out = publish(cli, env, "--all")
    assert code == 0 and out["models"][0]["status"] == "updated"
    assert columns_of(sandbox, model)["kafka.events"]  # the mapping is drawn now
    assert publish(cli, env, "--all")[1]["summary"]["unchanged"] == 1
