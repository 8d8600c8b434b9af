from __future__ import annotations

from mlmeta.catalog.records import Edge, Ref
from mlmeta.plan import lineage
from mlmeta.plan.desired import WantedEdge

ORDERS, USERS, TOPIC = (Ref("t1", "table", "orders", "s.d.p.orders"), Ref("t2", "table", "users", "s.d.p.users"),
                        Ref("k1", "topic", "events", "kafka.events"))
BY_COLUMN = WantedEdge(USERS, (("svc.m.is_premium", ("s.d.p.users.premium",)),
                               ("svc.m.tenure", ("s.d.p.users.created", "s.d.p.users.plan"))))


def edge(ref: Ref, details=None) -> Edge:
    return Edge(ref.id, ref.type, ref.fqn, details)


def test_new_sources_get_edges_and_existing_ones_are_kept():
    plan = lineage.plan("svc.m", [WantedEdge(ORDERS), WantedEdge(USERS)], [edge(ORDERS)])
    assert plan.add == [WantedEdge(USERS)] and plan.update == [] and plan.remove == []


def test_only_our_edges_are_removed_when_their_source_goes():
    ours = edge(USERS, lineage.details("svc.m", WantedEdge(USERS)))
    server_made = edge(ORDERS)  # created with the model: no details
    foreign = edge(TOPIC, {"description": "drawn by the data team", "source": "Manual"})
    plan = lineage.plan("svc.m", [], [ours, server_made, foreign])
    assert plan.remove == [ours, server_made]


def test_details_carry_the_marker_and_the_column_mapping():
    details = lineage.details("svc.m", BY_COLUMN)
    assert lineage.owned(edge(USERS, details))
    assert "managed by mlmeta" in details["description"]
    assert details["columnsLineage"] == [
        {"fromColumns": ["s.d.p.users.premium"], "toColumn": "svc.m.is_premium"},
        {"fromColumns": ["s.d.p.users.created", "s.d.p.users.plan"], "toColumn": "svc.m.tenure"}]
    assert "columnsLineage" not in lineage.details("svc.m", WantedEdge(USERS))


def test_an_edge_whose_column_mapping_changed_is_redrawn_in_any_stored_order():
    shuffled = {**lineage.details("svc.m", BY_COLUMN)}
    shuffled["columnsLineage"] = [
        {"toColumn": "svc.m.tenure", "fromColumns": ["s.d.p.users.plan", "s.d.p.users.created"]},
        {"toColumn": "svc.m.is_premium", "fromColumns": ["s.d.p.users.premium"]}]
    assert lineage.plan("svc.m", [BY_COLUMN], [edge(USERS, shuffled)]).empty
    # the server drew the edge at create time without details: mlmeta adds the mapping
    assert lineage.plan("svc.m", [BY_COLUMN], [edge(USERS)]).update == [BY_COLUMN]
    # a column dropped from the spec
    fewer = WantedEdge(USERS, BY_COLUMN.columns[:1])
    assert lineage.plan("svc.m", [fewer], [edge(USERS, shuffled)]).update == [fewer]


def test_someone_elses_edge_is_never_redrawn():
    foreign = edge(USERS, {"description": "drawn by the data team", "source": "Manual"})
    assert lineage.plan("svc.m", [BY_COLUMN], [foreign]).empty


TRAINING = "training data, MLflow run r1, dataset users@d1"


def test_a_training_dataset_is_said_in_the_edge_details_beside_the_feature_source():
    both = WantedEdge(USERS, BY_COLUMN.columns, ("feature source", TRAINING))
    text = lineage.details("svc.m", both)["description"]
    assert text == "Feature source of svc.m; training data, MLflow run r1, dataset users@d1 (managed by mlmeta)"
    only = lineage.details("svc.m", WantedEdge(ORDERS, (), (TRAINING,)))["description"]
    assert only == "Training data, MLflow run r1, dataset users@d1 (managed by mlmeta)"
    assert not WantedEdge(ORDERS, (), (TRAINING,)).drawn_at_create and WantedEdge(ORDERS).drawn_at_create


def test_a_new_run_redraws_the_training_edge_and_a_plain_create_time_edge_stays_as_drawn():
    before = edge(USERS, lineage.details("svc.m", WantedEdge(USERS, (), ("feature source", TRAINING))))
    after = WantedEdge(USERS, (), ("feature source", "training data, MLflow run r2, dataset users@d2"))
    assert lineage.plan("svc.m", [after], [before]).update == [after]
    # no longer trained on it: the edge goes back to a plain feature source
    assert lineage.plan("svc.m", [WantedEdge(USERS)], [before]).update == [WantedEdge(USERS)]
    # the server's own create-time edge (no details) is what a plain feature source wants
    assert lineage.plan("svc.m", [WantedEdge(USERS)], [edge(USERS)]).empty


def test_downstream_edges_are_planned_apart_from_upstream_ones():
    output = WantedEdge(TOPIC, (("kafka.events.score", ("svc.m.a", "svc.m.b")),), ("predictions",), downstream=True)
    upstream_edge = edge(ORDERS)
    drawn_before = Edge(TOPIC.id, TOPIC.type, TOPIC.fqn, lineage.details("svc.m", WantedEdge(
        TOPIC, (), ("predictions",), downstream=True)), downstream=True)
    theirs = Edge("k3", "topic", "kafka.audit", {"description": "drawn by the data team"}, downstream=True)
    stale = Edge("k2", "topic", "kafka.old", lineage.details("svc.m", output), downstream=True)
    plan = lineage.plan("svc.m", [output], [upstream_edge, drawn_before, theirs, stale], downstream=True)
    assert plan.update == [output] and plan.remove == [stale] and plan.add == []
    assert lineage.details("svc.m", output)["description"] == "Predictions of svc.m (managed by mlmeta)"
    assert lineage.plan("svc.m", [WantedEdge(ORDERS)], [upstream_edge, stale]).empty
