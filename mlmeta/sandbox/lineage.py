"""Lineage as the server keeps it: one UPSTREAM edge per (from, to) pair, with optional details.

``PUT /v1/lineage`` upserts an edge after checking both ends exist and are not deleted, always
storing details (source ``Manual`` when none are sent; created/updated stamps reset on every
PUT); a GET walks upstream and downstream to the asked depth (0 to 3) and answers ``{entity,
nodes, upstreamEdges, downstreamEdges}`` with edges keyed by entity ids, soft-deleted neighbours
included (marked ``deleted``); DELETE removes an edge or answers 404.
"""

from __future__ import annotations

from typing import Any

from mlmeta.sandbox.semantics import ApiError, not_found
from mlmeta.sandbox.store import NotFound, State, now_ms

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
    now = now_ms()
    details = {**(edge.get("lineageDetails") or {}), "createdAt": now, "createdBy": user["name"], "updatedAt": now,
               "updatedBy": user["name"]}
    details["source"] = details.get("source") or "Manual"
    state.edges[key] = {"fromType": edge["fromEntity"]["type"], "toType": edge["toEntity"]["type"], "details": details}


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
