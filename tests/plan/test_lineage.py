from __future__ import annotations

from mlmeta.catalog import Edge, Ref
from mlmeta.plan import lineage

ORDERS, USERS, TOPIC = (Ref("t1", "table", "orders", "s.d.p.orders"), Ref("t2", "table", "users", "s.d.p.users"),
                        Ref("k1", "topic", "events", "kafka.events"))


def edge(ref: Ref, details=None) -> Edge:
    return Edge(ref.id, ref.type, ref.fqn, details)


def test_new_sources_get_edges_and_existing_ones_are_kept():
    plan = lineage.plan([ORDERS, USERS], [edge(ORDERS)])
    assert plan.add == [USERS] and plan.remove == []


def test_only_our_edges_are_removed_when_their_source_goes():
    ours = edge(USERS, lineage.details("svc.m"))
    server_made = edge(ORDERS)  # created with the model: no details
    foreign = edge(TOPIC, {"description": "drawn by the data team", "source": "Manual"})
    plan = lineage.plan([], [ours, server_made, foreign])
    assert plan.remove == [ours, server_made]


def test_details_carry_the_marker():
    assert lineage.owned(edge(USERS, lineage.details("svc.m")))
    assert "managed by mlmeta" in lineage.details("svc.m")["description"]
