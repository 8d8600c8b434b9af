"""Fidelity, round 2: the places where a second reading of the server found the stand-in wrong.

Each test names the server rule and where it was read (the newest stored OpenMetadata sources:
``MlModelRepository``, ``EntityRepository.EntityUpdater``, ``LineageRepository``,
``EntityResource``, ``FullyQualifiedName``). Raw HTTP, because these are about what the server
answers - statuses, headers, the exact JSON - which the SDK client smooths over.
"""

from __future__ import annotations

import pytest
import requests

from tests.helpers.sandbox import TABLES, raw

MODEL = "mlflow_models.fidelity"


def table(sandbox, name: str) -> dict:
    return raw(sandbox, "GET", f"/v1/tables/name/{TABLES}.{name}").json()


def create(sandbox, user: str = "mlmeta-bot", **fields) -> dict:
    users = table(sandbox, "users")
    body = {"name": "fidelity", "service": "mlflow_models", "algorithm": "GBR", "description": "Predicts churn.",
            "mlFeatures": [{"name": "is_premium", "dataType": "categorical",
                            "featureSources": [{"name": "premium", "dataType": "boolean",
                                                "dataSource": {"id": users["id"], "type": "table"}}]}],
            **fields}
    answer = raw(sandbox, "POST", "/v1/mlmodels", user, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def patch(sandbox, model: dict, operations: list, user: str = "mlmeta-bot", **headers):
    return raw(sandbox, "PATCH", f"/v1/mlmodels/{model['id']}", user, json=operations,
               headers={"Content-Type": "application/json-patch+json", **headers})


def read(sandbox, fields: str = "owners,tags,sourceHash", include: str = "non-deleted") -> dict:
    return raw(sandbox, "GET", f"/v1/mlmodels/name/{MODEL}?fields={fields}&include={include}", "admin").json()


def upstream(sandbox) -> dict[str, dict]:
    graph = raw(sandbox, "GET", f"/v1/lineage/mlmodel/name/{MODEL}?upstreamDepth=1&downstreamDepth=0").json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    return {nodes[e["fromEntity"]]["fullyQualifiedName"]: {"node": nodes[e["fromEntity"]],
                                                           "details": e.get("lineageDetails")}
            for e in graph["upstreamEdges"]}


# --- 1. feature tags (MlModelRepository.validateTags: validated, normalised, read back only with fields=tags)


def test_an_unknown_feature_tag_is_refused(sandbox):
    users = table(sandbox, "users")
    answer = raw(sandbox, "POST", "/v1/mlmodels", json={
        "name": "fidelity", "service": "mlflow_models",
        "mlFeatures": [{"name": "f", "dataType": "numerical", "tags": [{"tagFQN": "PII.Nope", "source": "Classification",
                                                                       "labelType": "Manual", "state": "Confirmed"}],
                        "featureSources": [{"name": "premium", "dataSource": {"id": users["id"], "type": "table"}}]}]})
    assert answer.status_code == 404 and "PII.Nope" in answer.json()["message"]


def test_feature_tags_come_back_normalised_and_only_when_asked_for(sandbox):
    model = create(sandbox)
    tag = {"tagFQN": "PII.Sensitive", "source": "Classification", "labelType": "Manual", "state": "Confirmed"}
    assert patch(sandbox, model, [{"op": "add", "path": "/mlFeatures/0/tags", "value": [tag]}]).status_code == 200
    assert "tags" not in read(sandbox, fields="owners")["mlFeatures"][0]
    [label] = read(sandbox, fields="tags")["mlFeatures"][0]["tags"]
    assert label["tagFQN"] == "PII.Sensitive" and label["name"] == "Sensitive"  # the server fills the name in


# --- 2. lineage reads include soft-deleted neighbours (Include.ALL)


def test_an_edge_from_a_soft_deleted_table_still_comes_back(sandbox):
    create(sandbox)
    users = table(sandbox, "users")
    assert raw(sandbox, "DELETE", f"/v1/tables/{users['id']}", "admin").status_code == 200
    edges = upstream(sandbox)
    assert edges[f"{TABLES}.users"]["node"]["deleted"] is True


# --- 3. a sourceHash-only change: no new version, but the entity counts as changed


def test_a_source_hash_only_change_stamps_updated_by_and_at(sandbox):
    model = create(sandbox, user="admin")
    answer = patch(sandbox, model, [{"op": "add", "path": "/sourceHash", "value": "abc123"}])
    assert answer.status_code == 200 and answer.headers["X-OpenMetadata-Change"] == "entityUpdated"
    stored = read(sandbox)
    assert (stored["version"], stored["sourceHash"], stored["updatedBy"]) == (0.1, "abc123", "mlmeta-bot")
    assert stored["updatedAt"] > model["updatedAt"]


# --- 4. PUT never reads If-Match (EntityResource.createOrUpdate); PATCH does


def test_put_ignores_if_match_and_last_write_wins(sandbox):
    model = create(sandbox)
    body = {"name": "fidelity", "service": "mlflow_models", "algorithm": "GBR", "description": "Predicts churn.",
            "target": "churned"}
    answer = raw(sandbox, "PUT", "/v1/mlmodels", "admin", json=body, headers={"If-Match": 'W/"7.7"'})
    assert answer.status_code == 200 and answer.json()["target"] == "churned"
    stale = patch(sandbox, model, [{"op": "add", "path": "/displayName", "value": "x"}], **{"If-Match": 'W/"0.1"'})
    assert stale.status_code == 412


# --- 5. PUT /v1/lineage always records details (source Manual; created* reset on every PUT)


def test_an_edge_put_without_details_gets_details_and_only_create_edges_have_none(sandbox):
    model = create(sandbox)
    orders = table(sandbox, "orders")
    edge = {"edge": {"fromEntity": {"id": orders["id"], "type": "table"},
                     "toEntity": {"id": model["id"], "type": "mlmodel"}}}
    assert raw(sandbox, "PUT", "/v1/lineage", "admin", json=edge).status_code == 200
    edges = upstream(sandbox)
    assert edges[f"{TABLES}.users"]["details"] is None  # drawn by the server on create
    details = edges[f"{TABLES}.orders"]["details"]
    assert (details["source"], details["createdBy"]) == ("Manual", "admin")
    assert raw(sandbox, "PUT", "/v1/lineage", "mlmeta-bot", json=edge).status_code == 200
    again = upstream(sandbox)[f"{TABLES}.orders"]["details"]
    assert again["createdBy"] == "mlmeta-bot" and again["createdAt"] >= details["createdAt"]


# --- 6. write answers carry that request's own changeDescription; reads the consolidated one


def test_write_answers_carry_the_incremental_change_description(sandbox):
    model = create(sandbox)
    no_op = patch(sandbox, model, [{"op": "replace", "path": "/description", "value": "Predicts churn."}])
    assert no_op.headers["X-OpenMetadata-Change"] == "entityNoChange"
    assert no_op.json()["changeDescription"]["fieldsAdded"] == no_op.json()["changeDescription"]["fieldsUpdated"] == []
    first = patch(sandbox, model, [{"op": "add", "path": "/displayName", "value": "Churn"}]).json()
    assert [f["name"] for f in first["changeDescription"]["fieldsAdded"]] == ["displayName"]
    second = patch(sandbox, first, [{"op": "replace", "path": "/displayName", "value": "Churn v2"}]).json()
    assert second["version"] == 0.2  # consolidated with the first PATCH (same user, no If-Match)
    assert [f["name"] for f in second["changeDescription"]["fieldsUpdated"]] == ["displayName"]
    assert second["changeDescription"]["fieldsAdded"] == []  # this request added nothing
    assert [f["name"] for f in read(sandbox)["changeDescription"]["fieldsAdded"]] == ["displayName"]


def test_owners_change_with_full_references_and_deleted_is_a_boolean(sandbox):
    import json

    model = create(sandbox)
    alice = raw(sandbox, "GET", "/v1/users/name/alice").json()
    answer = patch(sandbox, model, [{"op": "add", "path": "/owners", "value": [{"id": alice["id"], "type": "user"}]}])
    [added] = answer.json()["changeDescription"]["fieldsAdded"]
    assert added["name"] == "owners" and json.loads(added["newValue"])[0]["name"] == "alice"
    deleted = raw(sandbox, "DELETE", f"/v1/mlmodels/{model['id']}").json()
    [change] = deleted["changeDescription"]["fieldsUpdated"] or deleted["changeDescription"]["fieldsAdded"]
    assert change["name"] == "deleted" and change["newValue"] is True


# --- the smaller ones


def test_include_deleted_returns_only_deleted_entities(sandbox):
    create(sandbox)
    assert raw(sandbox, "GET", f"/v1/mlmodels/name/{MODEL}?include=deleted").status_code == 404
    assert raw(sandbox, "GET", f"/v1/mlmodels/name/{MODEL}?include=all").status_code == 200


def test_fields_star_is_every_field(sandbox):
    create(sandbox)
    answer = raw(sandbox, "GET", f"/v1/mlmodels/name/{MODEL}?fields=*")
    assert answer.status_code == 200 and "followers" in answer.json()


def test_deleting_a_soft_deleted_model_again_is_a_no_op(sandbox):
    model = create(sandbox)
    first = raw(sandbox, "DELETE", f"/v1/mlmodels/{model['id']}").json()
    again = raw(sandbox, "DELETE", f"/v1/mlmodels/{model['id']}")
    assert again.status_code == 200 and again.json()["version"] == first["version"]


def test_put_of_an_existing_service_updates_and_restores_it(sandbox):
    body = {"name": "mlflow_models", "serviceType": "Mlflow", "description": "Models trained with MLflow."}
    answer = raw(sandbox, "PUT", "/v1/services/mlmodelServices", "admin", json=body)
    assert answer.status_code == 200 and answer.headers["X-OpenMetadata-Change"] == "entityUpdated"
    assert raw(sandbox, "GET", "/v1/services/mlmodelServices/name/mlflow_models").json()["description"] == \
        "Models trained with MLflow."


def test_inside_features_an_empty_list_and_an_absent_one_differ(sandbox):
    model = create(sandbox)
    answer = patch(sandbox, model, [{"op": "add", "path": "/mlFeatures/0/tags", "value": []}])
    assert answer.json()["version"] == 0.2  # the feature list changed: a new version


def test_a_life_cycle_change_moves_no_version(sandbox):
    model = create(sandbox)
    answer = patch(sandbox, model, [{"op": "add", "path": "/lifeCycle", "value": {"created": {"timestamp": 1}}}])
    assert answer.json()["version"] == 0.1


def define_property(sandbox, name: str, kind: str = "string") -> None:
    """A custom property on the mlmodel type, as an administrator adds one (extension must name them)."""
    admin = {"Authorization": f"Bearer {sandbox.token('admin')}"}
    types = f"{sandbox.api_url}/v1/metadata/types"
    mlmodel = requests.get(f"{types}/name/mlmodel", headers=admin, timeout=10).json()
    field_type = requests.get(f"{types}/name/{kind}", headers=admin, timeout=10).json()
    requests.put(f"{types}/{mlmodel['id']}", headers=admin, timeout=10, json={
        "name": name, "description": name, "propertyType": {"id": field_type["id"], "type": "type"}}
    ).raise_for_status()


def test_a_bot_put_keeps_extension(sandbox):
    define_property(sandbox, "team")
    model = create(sandbox)
    assert patch(sandbox, model, [{"op": "add", "path": "/extension", "value": {"team": "ml"}}],
                 "admin").status_code == 200
    body = {"name": "fidelity", "service": "mlflow_models", "algorithm": "GBR", "extension": {"team": "other"}}
    assert raw(sandbox, "PUT", "/v1/mlmodels", json=body).status_code == 200
    assert read(sandbox, fields="extension")["extension"] == {"team": "ml"}


@pytest.mark.parametrize("where", ["model", "feature"])
def test_a_name_with_a_double_quote_is_a_400(sandbox, where):
    """2.0 refuses it by the entityName pattern (PR 30211); 1.x when it builds the FQN."""
    body = {"name": 'a"b' if where == "model" else "plain", "service": "mlflow_models",
            "mlFeatures": [{"name": 'f"g' if where == "feature" else "f", "dataType": "numerical"}]}
    answer = raw(sandbox, "POST", "/v1/mlmodels", json=body)
    field = "name" if where == "model" else "mlFeatures[0].name"
    pattern = r'^((?!::)[^>"\x00-\x1f])*$'
    assert (answer.status_code, answer.json()["message"]) == (400, f'[{field} must match "{pattern}"]')


def test_listing_a_services_models_pages_with_an_after_cursor(sandbox):
    for name in ("m3", "m1", "m2"):
        create(sandbox, name=name)
    first = raw(sandbox, "GET", "/v1/mlmodels?service=mlflow_models&limit=2").json()
    assert [m["name"] for m in first["data"]] == ["m1", "m2"] and first["paging"]["total"] == 3
    second = raw(sandbox, "GET", f"/v1/mlmodels?service=mlflow_models&limit=2&after={first['paging']['after']}").json()
    assert [m["name"] for m in second["data"]] == ["m3"] and "after" not in second["paging"]
    default = raw(sandbox, "GET", "/v1/mlmodels?service=mlflow_models").json()
    assert len(default["data"]) == 3  # the default page is 10


def test_catalog_lists_narrow_to_a_parent_page_and_leave_deleted_entities_out(sandbox):
    tables = "/v1/tables?databaseSchema=demo_pg.postgres.public"
    first = raw(sandbox, "GET", tables + "&limit=2").json()
    assert [t["name"] for t in first["data"]] == ["orders", "restaurants"] and first["paging"]["total"] == 3
    second = raw(sandbox, "GET", f"{tables}&limit=2&after={first['paging']['after']}").json()
    assert [t["fullyQualifiedName"] for t in second["data"]] == ["demo_pg.postgres.public.users"]
    raw(sandbox, "DELETE", f"/v1/tables/{second['data'][0]['id']}")
    assert [t["name"] for t in raw(sandbox, "GET", tables).json()["data"]] == ["orders", "restaurants"]
    assert raw(sandbox, "GET", "/v1/tables?databaseSchema=demo_pg.postgres.nowhere").json()["data"] == []
    topics = raw(sandbox, "GET", "/v1/topics?service=kafka&limit=100").json()["data"]
    assert topics and all(t["fullyQualifiedName"].startswith("kafka.") for t in topics)
    assert "ml_platform" in [t["name"] for t in raw(sandbox, "GET", "/v1/teams?limit=100").json()["data"]]


def test_a_service_holding_models_is_deleted_only_recursively_and_its_models_with_it(sandbox):
    """EntityRepository.delete: a parent with children needs recursive=true ("<type> is not empty");
    a hard delete then takes the children, their histories and edges with it."""
    model = create(sandbox)
    service = raw(sandbox, "GET", "/v1/services/mlmodelServices/name/mlflow_models").json()
    refused = raw(sandbox, "DELETE", f"/v1/services/mlmodelServices/{service['id']}?hardDelete=true", "admin")
    assert (refused.status_code, refused.json()["message"]) == (400, "mlmodelService is not empty")
    assert raw(sandbox, "DELETE", f"/v1/services/mlmodelServices/{service['id']}?hardDelete=true&recursive=true",
               "admin").status_code == 200
    assert raw(sandbox, "GET", f"/v1/mlmodels/{model['id']}?include=all").status_code == 404
    assert not [key for key in sandbox.app.state.edges if model["id"] in key]
