"""The sandbox plays each release as its evidence says (mlmeta.catalog.releases): raw HTTP, because these
are about what a server of that release answers - statuses, headers, versions - and a client of
any release must meet the same.
"""

from __future__ import annotations

import gzip
import hashlib

import pytest
import requests

from mlmeta.standins.openmetadata import Sandbox
from mlmeta.standins.openmetadata.tokens import QUICKSTART_ADMIN, QUICKSTART_INGESTION_BOT
from tests.helpers.sandbox import TABLES

FEATURES = [{"name": "tenure", "dataType": "numerical"}]


@pytest.fixture(scope="module")
def servers():
    """One sandbox per release these tests compare, started once."""
    played = {}
    try:
        for version in ("1.5.3", "1.8.12", "1.12.14", "2.0.7"):
            played[version] = Sandbox(server_version=version).start()
        yield played
    finally:
        for server in played.values():
            server.stop()


@pytest.fixture
def play(servers):
    def reset(version: str) -> Sandbox:
        server = servers[version]
        server.reset()
        return server

    return reset


def call(server: Sandbox, method: str, path: str, user: str = "mlmeta-bot", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.token(user)}", **kwargs.pop("headers", {})}
    return requests.request(method, server.api_url + path, headers=headers, timeout=10, **kwargs)


def create(server: Sandbox, **fields) -> dict:
    answer = call(server, "POST", "/v1/mlmodels", json={"name": "m", "service": "mlflow_models", "algorithm": "GBR",
                                                       "description": "Old.", "mlFeatures": FEATURES, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def patch(server: Sandbox, model: dict, operations: list, user: str = "mlmeta-bot", **headers) -> requests.Response:
    return call(server, "PATCH", f"/v1/mlmodels/{model['id']}", user, json=operations,
                headers={"Content-Type": "application/json-patch+json", **headers})


def read(server: Sandbox, fields: str = "sourceHash") -> dict:
    return call(server, "GET", f"/v1/mlmodels/name/mlflow_models.m?fields={fields}", "admin").json()


# --- the domain field: one up to 1.8, a list from 1.9 (the generated models of each minor) ---------


def test_up_to_1_8_a_model_has_one_domain_and_refuses_the_list(play):
    server = play("1.8.12")
    refused = call(server, "POST", "/v1/mlmodels", json={"name": "m", "service": "mlflow_models",
                                                         "domains": ["Operations"]})
    assert refused.status_code == 400 and 'Unrecognized field "domains"' in refused.json()["message"]
    create(server, domain="Operations")
    assert call(server, "GET", "/v1/mlmodels/name/mlflow_models.m?fields=domains").json() == {
        "code": 400, "message": "Invalid field name domains"}
    held = call(server, "GET", "/v1/mlmodels/name/mlflow_models.m?fields=domain").json()
    assert held["domain"]["name"] == "Operations"


def test_from_1_9_a_model_has_a_list_of_domains_and_refuses_the_single_one(play):
    server = play("2.0.7")
    refused = call(server, "POST", "/v1/mlmodels", json={"name": "m", "service": "mlflow_models",
                                                         "domain": "Operations"})
    assert refused.status_code == 400 and 'Unrecognized field "domain"' in refused.json()["message"]
    assert call(server, "GET", "/v1/mlmodels/name/mlflow_models.m?fields=domain").status_code in (400, 404)


# --- If-Match and ETags ----------------------------------------------------------------------------


def test_before_1_9_if_match_is_ignored_and_no_etag_is_sent(play):
    server = play("1.8.12")
    model = create(server)
    answer = patch(server, model, [{"op": "add", "path": "/description", "value": "New."}], **{"If-Match": 'W/"9.9"'})
    assert answer.status_code == 200 and "ETag" not in answer.headers
    assert read(server)["description"] == "New."


def test_1_9_to_1_13_hash_version_and_updated_at_and_refuse_a_stale_if_match(play):
    server = play("1.12.14")
    model = create(server)
    got = call(server, "GET", f"/v1/mlmodels/{model['id']}")
    text = f"{got.json()['version']!r}-{got.json()['updatedAt']}"
    # Jetty marks the ETag of a compressed answer --gzip (and takes the mark off an If-Match)
    assert got.headers["ETag"].replace('--gzip"', '"') == f'"{hashlib.sha256(text.encode()).hexdigest()[:16]}"'
    stale = patch(server, model, [{"op": "add", "path": "/description", "value": "New."}], **{"If-Match": 'W/"9.9"'})
    assert stale.status_code == 412
    assert patch(server, model, [{"op": "add", "path": "/description", "value": "New."}],
                 **{"If-Match": got.headers["ETag"]}).status_code == 200  # its own ETag, --gzip and all


def test_2_0s_etag_follows_the_fields_read_so_only_the_weak_one_can_be_sent_back(play):
    """Issue 30885: the strong ETag of a GET hashes what that GET returned."""
    server = play("2.0.7")
    model = create(server)
    got = call(server, "GET", f"/v1/mlmodels/{model['id']}?fields=tags")
    operation = [{"op": "add", "path": "/description", "value": "New."}]
    assert patch(server, model, operation, **{"If-Match": got.headers["ETag"]}).status_code == 412
    assert patch(server, model, operation, **{"If-Match": f'W/"{model["version"]}"'}).status_code == 200


# --- issue 28876: ML-model fields of an If-Match PATCH, 1.9.0 to 1.13.1 ------------------------------


def test_an_if_match_patch_of_features_alone_is_echoed_and_not_stored(play):
    server = play("1.12.14")
    model = create(server)
    changed = [{"name": "tenure", "dataType": "categorical"}]
    answer = patch(server, model, [{"op": "add", "path": "/mlFeatures", "value": changed}],
                   **{"If-Match": f'W/"{model["version"]}"'})
    body = answer.json()
    assert answer.status_code == 200 and body["mlFeatures"][0]["dataType"] == "categorical"  # echoed
    assert answer.headers["X-OpenMetadata-Change"] == "entityNoChange" and body["version"] == model["version"]
    assert body["changeDescription"]["fieldsUpdated"] == [] and body["changeDescription"]["fieldsAdded"] == []
    assert read(server)["mlFeatures"][0]["dataType"] == "numerical"  # not stored
    # beside a top-level change, the JSON is stored as a minor version, without its major bump
    answer = patch(server, model, [{"op": "add", "path": "/mlFeatures", "value": changed},
                                   {"op": "add", "path": "/target", "value": "churned"},
                                   {"op": "add", "path": "/description", "value": "New."}],
                   **{"If-Match": f'W/"{model["version"]}"'})
    held = read(server)
    assert (held["version"], held["description"], held["target"]) == (0.2, "New.", "churned")
    assert [c["name"] for c in answer.json()["changeDescription"]["fieldsUpdated"]] == ["description"]
    # without If-Match the model's own updater runs: stored, versioned as the change requires (by
    # another user: the same user's PATCHes within 10 minutes fold into one version)
    patch(server, model, [{"op": "add", "path": "/algorithm", "value": "XGB"}], "admin")
    assert (read(server)["algorithm"], read(server)["version"]) == ("XGB", 1.2)


def test_2_0_stores_what_an_if_match_patch_carries(play):
    server = play("2.0.7")
    model = create(server)
    answer = patch(server, model, [{"op": "add", "path": "/mlFeatures", "value": [{"name": "tenure",
                                                                                  "dataType": "categorical"}]}],
                   **{"If-Match": f'W/"{model["version"]}"'})
    assert answer.headers["X-OpenMetadata-Change"] == "entityUpdated" and answer.json()["version"] == 0.2
    assert read(server)["mlFeatures"][0]["dataType"] == "categorical"


# --- versions, types, lineage, names ------------------------------------------------------------


@pytest.mark.parametrize("version, moved", [("1.8.12", 0.2), ("2.0.7", 0.1)])
def test_a_source_hash_alone_moves_the_version_until_1_11_9(play, version, moved):
    server = play(version)
    model = create(server, sourceHash="one")
    assert patch(server, model, [{"op": "add", "path": "/sourceHash", "value": "two"}]).json()["version"] == moved
    assert read(server)["sourceHash"] == "two"


def test_table_cp_exists_from_1_5_7(play):
    assert call(play("1.5.3"), "GET", "/v1/metadata/types/name/table-cp").status_code == 404
    assert call(play("1.8.12"), "GET", "/v1/metadata/types/name/table-cp").status_code == 200


@pytest.mark.parametrize("version, audited", [("1.5.3", False), ("1.8.12", True)])
def test_lineage_details_record_who_drew_an_edge_from_1_7(play, version, audited):
    server = play(version)
    model = create(server)
    users = call(server, "GET", f"/v1/tables/name/{TABLES}.users").json()
    edge = {"edge": {"fromEntity": {"id": users["id"], "type": "table"}, "toEntity": {"id": model["id"],
                                                                                     "type": "mlmodel"},
                     "lineageDetails": {"description": "drawn"}}}
    assert call(server, "PUT", "/v1/lineage", json=edge).status_code == 200
    graph = call(server, "GET", "/v1/lineage/mlmodel/name/mlflow_models.m?upstreamDepth=1&downstreamDepth=0").json()
    [details] = [e["lineageDetails"] for e in graph["upstreamEdges"]]
    assert ("createdBy" in details) is audited and details["description"] == "drawn"


@pytest.mark.parametrize("version, refused", [("1.12.14", False), ("2.0.7", True)])
def test_2_0_refuses_a_name_with_a_greater_than_sign(play, version, refused):
    answer = call(play(version), "POST", "/v1/mlmodels", json={"name": "a>b", "service": "mlflow_models"})
    assert (answer.status_code == 400) is refused, answer.text


# --- what every release shares -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.5.3", "2.0.7"])
def test_the_quickstart_tokens_are_accepted_by_value(play, version):
    server = play(version)
    for token, name in ((QUICKSTART_ADMIN, "admin"), (QUICKSTART_INGESTION_BOT, "ingestion-bot")):
        answer = requests.get(f"{server.api_url}/v1/users/name/{name}", timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
    forged = QUICKSTART_ADMIN[:-4] + "AAAA"
    assert requests.get(f"{server.api_url}/v1/users/name/admin", headers={"Authorization": f"Bearer {forged}"},
                        timeout=10).status_code == 401


def test_answers_are_gzipped_for_clients_that_accept_it(play):
    server = play("1.5.3")
    answer = requests.get(f"{server.api_url}/v1/tables/name/{TABLES}.users?fields=columns", stream=True, timeout=10,
                          headers={"Authorization": f"Bearer {server.token()}", "Accept-Encoding": "gzip"})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert b'"columns"' in gzip.decompress(answer.raw.read())
    plain = requests.get(f"{server.api_url}/v1/tables/name/{TABLES}.users", timeout=10,
                         headers={"Authorization": f"Bearer {server.token()}", "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


def test_each_release_reports_its_own_version(play):
    for version in ("1.5.3", "2.0.7"):
        answer = requests.get(f"{play(version).api_url}/v1/system/version", timeout=10).json()
        assert answer["version"] == version
