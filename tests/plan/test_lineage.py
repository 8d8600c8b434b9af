from __future__ import annotations

from mlmeta.catalog import Edge, Ref
from mlmeta.plan import lineage
from mlmeta.plan.desired import WantedEdge

ORDERS, USERS, TOPIC = (Ref("t1", "table", "orders", "s.d.p.orders"), Ref("t2", "table", "users", "s.d.p.users"),
                        Ref("k1", "topic", "events", "kafka.events"))
BY_COLUMN = WantedEdge(USERS, (("svc.m.is_premium", ("s.d.p.users.premium",)),
                               ("svc.m.tenure", ("s.d.p.users.created", "s.d.p.users.plan"))))


def edge(ref: Ref, details=None) -> Edge:
    return Edge(ref.id, ref.type, ref.fqn, details)


def test_new_sources_get_edges_and_existing_ones_are_kept():
    plan = lineage.plan([WantedEdge(ORDERS), WantedEdge(USERS)], [edge(ORDERS)])
    assert plan.add == [WantedEdge(USERS)] and plan.update == [] and plan.remove == []


def test_only_our_edges_are_removed_when_their_source_goes():
    ours = edge(USERS, lineage.details("svc.m", WantedEdge(USERS)))
    server_made = edge(ORDERS)  # created with the model: no details
    foreign = edge(TOPIC, {"description": "drawn by the data team", "source": "Manual"})
    plan = lineage.plan([], [ours, server_made, foreign])
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
    assert lineage.plan([BY_COLUMN], [edge(USERS, shuffled)]).empty
    # the server drew the edge at create time without details: mlmeta adds the mapping
    assert lineage.plan([BY_COLUMN], [edge(USERS)]).update == [BY_COLUMN]
    # a column dropped from the spec
    fewer = WantedEdge(USERS, BY_COLUMN.columns[:1])
    assert lineage.plan([fewer], [edge(USERS, shuffled)]).update == [fewer]


def test_someone_elses_edge_is_never_redrawn():
    foreign = edge(USERS, {"description": "drawn by the data team", "source": "Manual"})
    assert lineage.plan([BY_COLUMN], [foreign]).empty
