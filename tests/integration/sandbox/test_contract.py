"""The sandbox's contract, asserted ONLY through the official SDK client (plus raw HTTP where the
SDK hides what the server says, e.g. headers and status codes). Each test names the server rule
it pins; the README lists them."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.helpers import sdk
from tests.helpers.sandbox import TABLES, model_request, raw, table_ref


def version(model) -> float:
    return model.version.root


def test_the_sdk_connects_because_the_version_matches(om):
    client = om()
    assert client.get_server_version().split(".")[:2] == client.client_version.split(".")[:2]


def test_a_server_of_another_minor_version_is_refused_by_the_sdk():
    from mlmeta.standins.openmetadata import Sandbox

    with Sandbox(server_version="1.9.4") as old, pytest.raises(Exception, match="Server version is 1.9.4 vs"):
        old.client()


def test_requests_without_a_valid_token_get_401(sandbox):
    plain = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.users", timeout=5)
    assert (plain.status_code, plain.json()) == (401, {"code": 401, "message": "Not Authorized! Token not present"})
    forged = requests.get(f"{sandbox.api_url}/v1/tables/name/{TABLES}.users", timeout=5,
                          headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged"})
    assert forged.status_code == 401


def test_tables_by_fqn_always_carry_typed_columns_with_fqns(om):
    table = om().get_by_name(sdk.Table, f"{TABLES}.restaurants")
    columns = {c.name.root: (c.dataType.value, c.fullyQualifiedName.root) for c in table.columns}
    assert columns["rating"] == ("INT", f"{TABLES}.restaurants.rating")
    assert columns["type"] == ("TEXT", f"{TABLES}.restaurants.type")


def test_missing_entities_are_404_shaped_like_the_server(om, sandbox):
    assert om().get_by_name(sdk.Table, f"{TABLES}.nope") is None
    answer = raw(sandbox, "GET", "/v1/mlmodels/name/mlflow_models.nope")
    assert (answer.status_code, answer.json()) == (
        404, {"code": 404, "message": "mlmodel instance for mlflow_models.nope not found"})


def test_unknown_field_names_are_400(om):
    client = om()
    client.create_or_update(model_request(client))
    with pytest.raises(sdk.APIError, match="Invalid field name colour"):
        client.get_by_name(sdk.MlModel, "mlflow_models.churn", fields=["owners", "colour"])


def test_get_by_id_and_by_fqn_agree_and_fields_select_relationships(om):
    client = om("admin")
    created = client.create_or_update(model_request(client, owners=[_user_ref(client, "alice")]))
    plain = client.get_by_name(sdk.MlModel, "mlflow_models.churn")
    assert plain.owners is None or plain.owners.root == []
    full = client.get_by_id(sdk.MlModel, created.id, fields=["owners"])
    assert [o.name for o in full.owners.root] == ["alice"]
    assert full.mlFeatures == plain.mlFeatures


def _user_ref(client, name: str) -> sdk.EntityReference:
    from metadata.generated.schema.entity.teams.user import User

    user = client.get_by_name(User, name)
    return sdk.EntityReference(id=user.id, type="user")


def test_post_creates_and_a_second_post_conflicts(om):
    client = om()
    created = client.create(model_request(client))
    assert (created.fullyQualifiedName.root, version(created)) == ("mlflow_models.churn", 0.1)
    with pytest.raises(sdk.APIError, match="Entity already exists"):
        client.create(model_request(client))


def test_put_answers_created_updated_or_no_change_in_a_header(om, sandbox):
    client = om()
    body = model_request(client).model_dump_json(exclude_none=True)
    first = raw(sandbox, "PUT", "/v1/mlmodels", data=body, headers={"Content-Type": "application/json"})
    again = raw(sandbox, "PUT", "/v1/mlmodels", data=body, headers={"Content-Type": "application/json"})
    assert (first.status_code, first.headers["X-OpenMetadata-Change"]) == (201, "entityCreated")
    assert (again.status_code, again.headers["X-OpenMetadata-Change"]) == (200, "entityNoChange")
    changed = model_request(client, displayName="Churn").model_dump_json(exclude_none=True)
    third = raw(sandbox, "PUT", "/v1/mlmodels", data=changed, headers={"Content-Type": "application/json"})
    assert third.headers["X-OpenMetadata-Change"] == "entityUpdated"


def test_fqns_quote_dotted_names(om):
    client = om()
    model = client.create_or_update(model_request(client, name="churn.v2"))
    assert model.fullyQualifiedName.root == 'mlflow_models."churn.v2"'
    assert model.mlFeatures[0].fullyQualifiedName.root == 'mlflow_models."churn.v2".is_premium'
    assert model.mlFeatures[0].featureSources[0].fullyQualifiedName.root == f"{TABLES}.users.premium"
    assert client.get_by_name(sdk.MlModel, 'mlflow_models."churn.v2"').id == model.id


def test_request_bodies_are_validated_with_the_sdk_models(sandbox):
    answer = raw(sandbox, "PUT", "/v1/mlmodels", json={"name": "x", "service": "mlflow_models", "colour": "red"})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith('Unrecognized field "colour"')
    missing = raw(sandbox, "PUT", "/v1/mlmodels", json={"service": "mlflow_models"})
    assert (missing.status_code, missing.json()["message"]) == (400, "[name must not be null]")


def test_feature_sources_must_exist_and_not_be_deleted(om):
    client = om("admin")
    ghost = sdk.EntityReference(id=uuid.uuid4(), type="table", fullyQualifiedName="svc.db.s.ghost")
    bad = model_request(client, mlFeatures=[
        sdk.MlFeature(name="f", dataType="numerical", featureSources=[sdk.FeatureSource(name="c", dataSource=ghost)])])
    with pytest.raises(sdk.APIError, match="table instance for .* not found"):
        client.create_or_update(bad)
    users = client.get_by_name(sdk.Table, f"{TABLES}.users")
    request = model_request(client)  # built while users still exists
    client.delete(sdk.Table, users.id)
    with pytest.raises(sdk.APIError, match="not found"):
        client.create_or_update(request)


def test_unknown_service_is_404(om):
    client = om()
    with pytest.raises(sdk.APIError, match="mlmodelService instance for nowhere not found"):
        client.create_or_update(model_request(client, service="nowhere"))


def test_no_change_keeps_version_updated_at_and_updated_by(om):
    bot, admin = om(), om("admin")
    created = admin.create_or_update(model_request(admin))
    again = bot.create_or_update(model_request(bot))
    assert (version(again), again.updatedAt.root, again.updatedBy) == (0.1, created.updatedAt.root, "admin")


def test_minor_change_adds_0_1_and_major_change_adds_1_0(om):
    client = om("admin")
    client.create_or_update(model_request(client))
    minor = client.create_or_update(model_request(client, displayName="Churn model"))
    assert version(minor) == 0.2
    for field, value in (("algorithm", "XGBoost"), ("target", "left"), ("server", "https://serve.example.com/churn")):
        major = client.create_or_update(model_request(client, displayName="Churn model", **{field: value}))
        assert version(major) == round(version(minor) + 1.0, 1), field
        minor = major
    assert version(minor) == 3.2


def test_features_and_hyperparameters_compare_as_unordered_lists(om):
    client = om("admin")
    created = client.create_or_update(model_request(client))
    request = model_request(client)
    reordered = request.model_copy(update={"mlFeatures": list(reversed(request.mlFeatures)),
                                           "mlHyperParameters": list(reversed(request.mlHyperParameters))})
    assert version(client.create_or_update(reordered)) == version(created)
    dropped = request.model_copy(update={"mlFeatures": request.mlFeatures[:1]})
    assert version(client.create_or_update(dropped)) == 0.2


def test_versions_history_lists_every_version_newest_first(om):
    client = om("admin")
    model = client.create_or_update(model_request(client))
    client.create_or_update(model_request(client, displayName="v2"))
    history = client.get_list_entity_versions(model.id, sdk.MlModel)
    assert [sdk.MlModel.model_validate_json(v).version.root for v in history.versions] == [0.2, 0.1]
    old = client.get_entity_version(sdk.MlModel, model.id, "0.1")
    assert old.displayName is None


def test_a_bots_put_keeps_a_humans_description_and_a_patch_replaces_it(om):
    human, bot = om("admin"), om("mlmeta-bot")
    human.create_or_update(model_request(human, description="Written by a person."))
    kept = bot.create_or_update(model_request(bot, description="From CI."))
    assert kept.description.root == "Written by a person." and version(kept) == 0.1
    source = bot.get_by_name(sdk.MlModel, "mlflow_models.churn")
    destination = source.model_copy(deep=True)
    destination.description = "From CI."
    patched = bot.patch(sdk.MlModel, source, destination)
    assert patched.description.root == "From CI." and version(patched) == 0.2


def test_a_bots_put_keeps_feature_descriptions_too(om):
    human, bot = om("admin"), om("mlmeta-bot")
    human.create_or_update(model_request(human))
    request = model_request(bot)
    request.mlFeatures[0].description = "Rewritten by CI."
    model = bot.create_or_update(request)
    assert model.mlFeatures[0].description.root == "Premium user."


def test_a_human_put_replaces_the_description(om):
    human = om("admin")
    human.create_or_update(model_request(human))
    assert human.create_or_update(model_request(human, description="New.")).description.root == "New."


def test_put_merges_tags_and_never_removes_owners_patch_does_both(om):
    from metadata.generated.schema.type.tagLabel import TagLabel

    def tag(fqn):
        return TagLabel(tagFQN=fqn, source="Classification", labelType="Manual", state="Confirmed")

    client = om("admin")
    client.create_or_update(model_request(client, tags=[tag("Tier.Tier1")], owners=[_user_ref(client, "alice")]))
    merged = client.create_or_update(model_request(client, tags=[tag("PII.Sensitive")]))
    full = client.get_by_name(sdk.MlModel, "mlflow_models.churn", fields=["tags", "owners"])
    assert {t.tagFQN.root for t in full.tags} == {"Tier.Tier1", "PII.Sensitive"}
    assert [o.name for o in full.owners.root] == ["alice"]
    assert version(merged) == 0.2
    destination = full.model_copy(deep=True)
    destination.tags, destination.owners = [tag("PII.Sensitive")], None
    client.patch(sdk.MlModel, full, destination)
    after = client.get_by_name(sdk.MlModel, "mlflow_models.churn", fields=["tags", "owners"])
    assert [t.tagFQN.root for t in after.tags] == ["PII.Sensitive"] and not (after.owners and after.owners.root)


def test_mutually_exclusive_tags_are_refused(om):
    from metadata.generated.schema.type.tagLabel import TagLabel

    client = om()
    tiers = [TagLabel(tagFQN=f"Tier.{t}", source="Classification", labelType="Manual", state="Confirmed")
             for t in ("Tier1", "Tier2")]
    with pytest.raises(sdk.APIError, match="mutually exclusive"):
        client.create_or_update(model_request(client, tags=tiers))


def test_patch_cannot_change_id_name_fqn_or_service(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    ops = [{"op": "replace", "path": "/name", "value": "renamed"},
           {"op": "replace", "path": "/fullyQualifiedName", "value": "x.y"},
           {"op": "replace", "path": "/description", "value": "patched"}]
    answer = raw(sandbox, "PATCH", f"/v1/mlmodels/{model.id.root}", json=ops,
                 headers={"Content-Type": "application/json-patch+json"})
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["fullyQualifiedName"]) == ("churn", "mlflow_models.churn")
    assert answer.json()["description"] == "patched"


def test_patch_needs_the_json_patch_content_type(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    answer = raw(sandbox, "PATCH", f"/v1/mlmodels/{model.id.root}", json=[], headers={"Content-Type": "application/json"})
    assert answer.status_code == 415


def test_if_match_rejects_a_stale_version_with_412(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    ops = [{"op": "replace", "path": "/description", "value": "one"}]
    ok = raw(sandbox, "PATCH", f"/v1/mlmodels/{model.id.root}", json=ops,
             headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"0.1"'})
    stale = raw(sandbox, "PATCH", f"/v1/mlmodels/{model.id.root}", json=ops,
                headers={"Content-Type": "application/json-patch+json", "If-Match": 'W/"0.1"'})
    assert ok.status_code == 200 and stale.status_code == 412
    assert stale.json()["message"].startswith("The entity has been modified.")


def test_patches_by_one_user_consolidate_into_one_version_unless_if_match_is_sent(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    path, kind = f"/v1/mlmodels/{model.id.root}", {"Content-Type": "application/json-patch+json"}
    for text in ("one", "two", "three"):
        raw(sandbox, "PATCH", path, json=[{"op": "replace", "path": "/description", "value": text}], headers=kind)
    assert version(client.get_by_id(sdk.MlModel, model.id)) == 0.2  # one session, one version
    current = 0.2
    for text in ("four", "five"):
        answer = raw(sandbox, "PATCH", path, json=[{"op": "replace", "path": "/description", "value": text}],
                     headers={**kind, "If-Match": f'W/"{current}"'})
        current = answer.json()["version"]
    assert current == 0.4


def _upstream(client, fqn="mlflow_models.churn") -> dict[str, dict]:
    graph = client.get_lineage_by_name(sdk.MlModel, fqn, up_depth=1, down_depth=0)
    names = {n["id"]: n["fullyQualifiedName"] for n in graph["nodes"]}
    return {names[e["fromEntity"]]: e.get("lineageDetails") for e in graph["upstreamEdges"]}


def test_create_adds_an_upstream_edge_per_feature_source_without_details(om):
    client = om()
    client.create_or_update(model_request(client))
    assert _upstream(client) == {f"{TABLES}.users": None, f"{TABLES}.orders": None}


def test_updates_neither_add_nor_remove_edges(om):
    client = om()
    client.create_or_update(model_request(client))
    restaurants = table_ref(client, "restaurants")
    request = model_request(client)
    changed = request.model_copy(update={"mlFeatures": [
        request.mlFeatures[0],
        sdk.MlFeature(name="rating", dataType="numerical",
                  featureSources=[sdk.FeatureSource(name="rating", dataType="integer", dataSource=restaurants)])]})
    assert version(client.create_or_update(changed)) == 0.2
    assert set(_upstream(client)) == {f"{TABLES}.users", f"{TABLES}.orders"}


def test_put_lineage_upserts_one_edge_with_its_details_and_delete_removes_it(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    restaurants = table_ref(client, "restaurants")
    to_model = sdk.EntityReference(id=model.id, type="mlmodel")
    for text in ("first", "second"):
        client.add_lineage(sdk.AddLineageRequest(edge=sdk.EntitiesEdge(
            fromEntity=restaurants, toEntity=to_model, lineageDetails=sdk.LineageDetails(description=text))))
    edges = _upstream(client)
    assert len(edges) == 3
    details = edges[f"{TABLES}.restaurants"]
    assert (details["description"], details["source"], details["createdBy"]) == ("second", "Manual", "mlmeta-bot")
    gone = raw(sandbox, "DELETE", f"/v1/lineage/table/{restaurants.id.root}/mlmodel/{model.id.root}")
    again = raw(sandbox, "DELETE", f"/v1/lineage/table/{restaurants.id.root}/mlmodel/{model.id.root}")
    assert (gone.status_code, again.status_code) == (200, 404)
    assert f"{TABLES}.restaurants" not in _upstream(client)


def test_lineage_by_id_follows_depth(om):
    client = om()
    model = client.create_or_update(model_request(client))
    users = client.get_by_name(sdk.Table, f"{TABLES}.users")
    down = client.get_lineage_by_id(sdk.Table, str(users.id.root), up_depth=0, down_depth=1)
    assert [e["toEntity"] for e in down["downstreamEdges"]] == [str(model.id.root)]
    assert client.get_lineage_by_id(sdk.Table, str(users.id.root), up_depth=0, down_depth=0)["downstreamEdges"] == []


def test_lineage_to_a_missing_entity_is_404(om, sandbox):
    client = om()
    model = client.create_or_update(model_request(client))
    answer = raw(sandbox, "PUT", "/v1/lineage", json={"edge": {
        "fromEntity": {"id": str(uuid.uuid4()), "type": "table"}, "toEntity": {"id": str(model.id.root), "type": "mlmodel"}}})
    assert answer.status_code == 404


def test_soft_delete_and_restore(om):
    client = om()
    model = client.create_or_update(model_request(client))
    client.delete(sdk.MlModel, model.id)
    assert client.get_by_name(sdk.MlModel, "mlflow_models.churn") is None
    # the SDK appends include= only after a fields= query (without one it builds a wrong URL)
    deleted = client.get_by_name(sdk.MlModel, "mlflow_models.churn", fields=["owners"], include="deleted")
    assert deleted.deleted and version(deleted) == 0.2
    restored = client.restore(sdk.MlModel, model.id)
    assert not restored.deleted and version(restored) == 0.3
    assert client.get_by_name(sdk.MlModel, "mlflow_models.churn").id == model.id


def test_hard_delete_removes_the_model_and_its_edges(om):
    client = om()
    model = client.create_or_update(model_request(client))
    client.delete(sdk.MlModel, model.id, hard_delete=True)
    assert client.get_by_name(sdk.MlModel, "mlflow_models.churn", fields=["owners"], include="all") is None
    users = client.get_by_name(sdk.Table, f"{TABLES}.users")
    assert client.get_lineage_by_id(sdk.Table, str(users.id.root), up_depth=0, down_depth=1)["downstreamEdges"] == []


def test_topics_containers_data_models_and_indexes_parse_as_the_sdks_entities(om):
    from metadata.generated.schema.entity.data.container import Container
    from metadata.generated.schema.entity.data.dashboardDataModel import DashboardDataModel
    from metadata.generated.schema.entity.data.searchIndex import SearchIndex
    from metadata.generated.schema.entity.data.topic import Topic

    client = om()
    topic = client.get_by_name(Topic, "kafka.events")
    context = next(f for f in topic.messageSchema.schemaFields if f.name.root == "context")
    assert [c.fullyQualifiedName.root for c in context.children] == ["kafka.events.context.page",
                                                                      "kafka.events.context.user_agent"]
    assert client.get_by_name(Topic, 'kafka."mysql.demo.users"').name.root == "mysql.demo.users"
    container = client.get_by_name(Container, "s3.ml-training.bot_detector", fields=["dataModel"])
    assert [c.name.root for c in container.dataModel.columns] == ["user_id", "is_bot", "labelled_at"]
    model = client.get_by_name(DashboardDataModel, "superset.model.bot_traffic")
    assert model.columns[2].fullyQualifiedName.root == "superset.model.bot_traffic.bot_share"
    index = client.get_by_name(SearchIndex, "elasticsearch.user_profiles")
    assert index.fields[2].children[0].fullyQualifiedName.root == "elasticsearch.user_profiles.address.city"


def test_column_lineage_into_a_model_keeps_only_features_and_columns_that_exist(om):
    client = om()
    model = client.create_or_update(model_request(client))
    users = table_ref(client, "users")
    mapping = [{"fromColumns": [f"{TABLES}.users.premium", f"{TABLES}.users.nope"],
                "toColumn": "mlflow_models.churn.is_premium"},
               {"fromColumns": [f"{TABLES}.users.user_id"], "toColumn": "mlflow_models.churn.no_such_feature"}]
    client.add_lineage(sdk.AddLineageRequest(edge=sdk.EntitiesEdge(
        fromEntity=users, toEntity=sdk.EntityReference(id=model.id, type="mlmodel"),
        lineageDetails=sdk.LineageDetails(description="columns", columnsLineage=mapping))))
    assert _upstream(client)[f"{TABLES}.users"]["columnsLineage"] == [
        {"fromColumns": [f"{TABLES}.users.premium"], "toColumn": "mlflow_models.churn.is_premium"}]


def test_custom_properties_are_defined_on_the_type_and_checked_on_writes(om, sandbox):
    """The SDK has no route for types: its REST client reads them, its Type model parses them."""
    from metadata.generated.schema.entity.type import Type

    client = om("admin")
    mlmodel = Type.model_validate(client.client.get("/metadata/types/name/mlmodel?fields=customProperties"))
    assert mlmodel.category.value == "entity" and not mlmodel.customProperties
    string = client.client.get("/metadata/types/name/string")
    client.client.put(f"/metadata/types/{mlmodel.id.root}", data=json.dumps({
        "name": "costCenter", "description": "who pays", "propertyType": {"id": string["id"], "type": "type"}}))
    again = Type.model_validate(client.client.get("/metadata/types/name/mlmodel?fields=customProperties"))
    [prop] = again.customProperties
    assert (prop.name.root, prop.propertyType.root.name, again.version.root) == ("costCenter", "string", 0.2)
    answer = raw(sandbox, "PUT", "/v1/mlmodels", json={"name": "churn", "service": "mlflow_models",
                                                      "extension": {"costCenters": "42"}})
    assert (answer.status_code, answer.json()["message"]) == (400, "Unknown custom field costCenters")
    stored = client.create_or_update(model_request(client, extension={"costCenter": "42"}))
    read = client.get_by_id(sdk.MlModel, stored.id, fields=["extension"])
    assert read.extension.root == {"costCenter": "42"}
