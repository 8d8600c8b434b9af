"""The diff: unordered comparisons, whole-field operations, readable changes (pure)."""

from __future__ import annotations

from mlmeta.plan.desired import Desired
from mlmeta.plan.diff import diff

TABLE = {"id": "t1", "type": "table", "name": "users", "fullyQualifiedName": "svc.db.s.users"}
FEATURE = {"name": "premium", "dataType": "categorical",
           "featureSources": [{"name": "premium", "dataType": "boolean", "dataSource": TABLE}]}


def desired(**fields) -> Desired:
    return Desired("svc", "m", "svc.m", fields, [])


def stored(**fields) -> dict:
    """As the server returns it: with FQNs and fuller references than mlmeta sends."""
    return {"id": "m1", "version": 0.3, **fields}


def test_reordered_features_and_hyperparameters_are_no_change():
    other = {"name": "tenure", "dataType": "numerical"}
    params = [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    current = stored(mlFeatures=[{**other, "fullyQualifiedName": "svc.m.tenure"}, FEATURE],
                     mlHyperParameters=params)
    assert diff(current, desired(mlFeatures=[FEATURE, other], mlHyperParameters=params[::-1])).empty


def test_server_added_fields_and_fuller_references_are_no_change():
    rich_source = {**FEATURE["featureSources"][0], "fullyQualifiedName": "svc.db.s.users.premium", "tags": [],
                   "dataSource": {**TABLE, "href": "http://x", "deleted": False}}
    current = stored(mlFeatures=[{**FEATURE, "featureSources": [rich_source], "tags": None}],
                     owners=[{"id": "u1", "type": "user", "name": "alice", "fullyQualifiedName": "alice",
                              "href": "http://x"}])
    assert diff(current, desired(mlFeatures=[FEATURE],
                                 owners=[{"id": "u1", "type": "user", "name": "alice"}])).empty


def test_a_changed_field_is_replaced_whole_and_described():
    result = diff(stored(description="old", target="a"), desired(description="new", target="b"))
    assert result.operations == [{"op": "add", "path": "/description", "value": "new"},
                                 {"op": "add", "path": "/target", "value": "b"}]
    assert [c.summary for c in result.changes] == ["description changed (3 -> 3 characters)", "target: 'a' -> 'b'"]


def test_fields_the_spec_does_not_manage_are_left_alone():
    assert diff(stored(description="same", dashboard={"fullyQualifiedName": "x.y"}), desired(description="same")).empty


def test_clearing_a_managed_field_removes_it():
    result = diff(stored(owners=[{"id": "u1", "type": "user", "name": "alice"}]), desired(owners=[]))
    assert result.operations == [{"op": "remove", "path": "/owners"}]
    assert result.changes[0].summary == "owners: user:alice -> (none)"


def test_references_are_patched_as_id_and_type():
    dashboard = {"id": "d1", "type": "dashboard", "name": "kpis", "fullyQualifiedName": "superset.kpis"}
    [op] = diff(stored(), desired(dashboard=dashboard)).operations
    assert op == {"op": "add", "path": "/dashboard", "value": {"id": "d1", "type": "dashboard"}}


def test_feature_changes_are_listed_one_by_one():
    changed = {**FEATURE, "description": "Premium user."}
    result = diff(stored(mlFeatures=[FEATURE, {"name": "gone", "dataType": "numerical"}]),
                  desired(mlFeatures=[changed, {"name": "new", "dataType": "numerical"}]))
    assert [c.summary for c in result.changes] == ["feature 'gone' removed", "feature 'new' added",
                                                   "feature 'premium': description changed"]
    assert len(result.operations) == 1  # the list goes as a whole


def test_the_source_hash_is_written_but_not_shown():
    result = diff(stored(sourceHash="a" * 32), desired(sourceHash="b" * 32))
    assert result.operations == [{"op": "add", "path": "/sourceHash", "value": "b" * 32}]
    assert result.changes == []
