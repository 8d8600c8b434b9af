"""Lineage as the server keeps it: one UPSTREAM edge per (from, to) pair, with optional details.

``PUT /v1/lineage`` upserts an edge after checking both ends exist and are not deleted, always
storing details (source ``Manual`` when none are sent; from 1.7, created/updated stamps reset on
every PUT). Column-level lineage is validated as the server's ``validateLineageDetails`` does it: each
``toColumn`` and ``fromColumns`` entry, less its entity's FQN, must name a child of that entity
(columns, schema fields, an ML model's features), or it is dropped without an error. A GET walks upstream and downstream to the asked depth (0 to 3) and answers ``{entity,
nodes, upstreamEdges, downstreamEdges}`` with edges keyed by entity ids, soft-deleted neighbours
included (marked ``deleted``); DELETE removes an edge or answers 404.
"""

from __future__ import annotations

from typing import Any

from mlmeta.catalog import fqn
from mlmeta.catalog.records import flatten_children
from mlmeta.standins.openmetadata.semantics import ApiError, not_found
from mlmeta.standins.openmetadata.store import NotFound, State, now_ms

MAX_DEPTH = 3


def add_edge(state: State, edge: dict[str, Any], user: dict[str, Any]) -> None:
    ends = []
    for end in (edge["fromEntity"], edge["toEntity"]):
        try:
            ends.append(state.by_id(end["type"], end["id"]))
        except NotFound as error:
            raise not_found(error) from None
    key = f"{ends[0]['id']}:{ends[1]['id']}"
    # the server always stores details on a PUT (an empty LineageDetails when none were sent, whose
    # source defaults to Manual) and stamps created*/updated* anew each time, so only the edges
    # drawn by a model's create have none
    details = dict(edge.get("lineageDetails") or {})
    if state.release.has("edge_audit"):  # 1.7+
        now = now_ms()
        details.update(createdAt=now, createdBy=user["name"], updatedAt=now, updatedBy=user["name"])
    details["source"] = details.get("source") or "Manual"
    if details.get("columnsLineage"):
        details["columnsLineage"] = _valid_columns(details["columnsLineage"], ends[0], edge["fromEntity"]["type"],
                                                   ends[1], edge["toEntity"]["type"])
    state.edges[key] = {"fromType": edge["fromEntity"]["type"], "toType": edge["toEntity"]["type"], "details": details}


def children(kind: str, entity: dict[str, Any]) -> set[str]:
    """The child names an entity offers column-level lineage (the server's ColumnLineageChildren)."""
    if kind == "mlmodel":
        return {fqn.quote(f["name"]) for f in entity.get("mlFeatures") or []}
    found = {"table": entity.get("columns"), "dashboardDataModel": entity.get("columns"),
             "topic": (entity.get("messageSchema") or {}).get("schemaFields"),
             "container": (entity.get("dataModel") or {}).get("columns"),
             "searchIndex": entity.get("fields")}.get(kind)
    return set(flatten_children(found))


def _valid_columns(mappings: list[dict[str, Any]], source: dict[str, Any], source_kind: str,
                   target: dict[str, Any], target_kind: str) -> list[dict[str, Any]]:
    """Keep the mappings whose ends exist; a mapping left with no source column goes."""
    source_children, target_children = children(source_kind, source), children(target_kind, target)
    kept = []
    for mapping in mappings:
        if mapping.get("toColumn", "").replace(target["fullyQualifiedName"] + ".", "") not in target_children:
            continue
        sources = [c for c in mapping.get("fromColumns") or []
                   if c.replace(source["fullyQualifiedName"] + ".", "") in source_children]
        if sources:
            kept.append({**mapping, "fromColumns": sources})
    return kept


def delete_edge(state: State, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
    key = f"{from_id}:{to_id}"
    stored = state.edges.get(key)
    if stored is None or stored["fromType"] != from_type or stored["toType"] != to_type:
        raise ApiError(404, f"Lineage edge between {from_type} {from_id} and {to_type} {to_id} not found")
    del state.edges[key]


def graph(state: State, kind: str, entity: dict[str, Any], upstream: int, downstream: int) -> dict[str, Any]:
    for depth in (upstream, downstream):
        if not 0 <= depth <= MAX_DEPTH:
            raise ApiError(400, f"query param upstreamDepth/downstreamDepth must be between 0 and {MAX_DEPTH}")
    nodes: dict[str, dict] = {}
    result = {"entity": state.reference(kind, entity), "nodes": [], "upstreamEdges": [], "downstreamEdges": []}
    _walk(state, entity["id"], upstream, nodes, result["upstreamEdges"], towards_sources=True)
    _walk(state, entity["id"], downstream, nodes, result["downstreamEdges"], towards_sources=False)
    nodes.pop(entity["id"], None)
    result["nodes"] = list(nodes.values())
    return result


def _walk(state: State, start: str, depth: int, nodes: dict, edges: list, *, towards_sources: bool) -> None:
    frontier, seen = [start], {start}
    for _ in range(depth):
        following = []
        for key, stored in state.edges.items():
            from_id, to_id = key.split(":")
            here, there = (to_id, from_id) if towards_sources else (from_id, to_id)
            if here not in frontier:
                continue
            found = state.find_any(there)
            if found is None:  # hard-deleted: its edges went with it
                continue
            # soft-deleted neighbours still come back (the server reads them with Include.ALL),
            # marked deleted in their reference
            edge = {"fromEntity": from_id, "toEntity": to_id}
            if stored["details"] is not None:
                edge["lineageDetails"] = stored["details"]
            edges.append(edge)
            nodes[there] = state.reference(*found)
            if there not in seen:
                seen.add(there)
                following.append(there)
        frontier = following
