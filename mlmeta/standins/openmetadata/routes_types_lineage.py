"""The sandbox's routes for types (custom properties, see ``types``) and lineage (see ``lineage``)."""

from __future__ import annotations

from mlmeta.standins.openmetadata import lineage, types
from mlmeta.standins.openmetadata.app import Request, Response, SandboxApp, route, route_by_key
from mlmeta.standins.openmetadata.conventions import entity_response, lookup, page_limit
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import COLLECTIONS


# --- routes: types (custom properties) ---------------------------------------------------------


def _type_fields(request: Request) -> set[str]:
    requested = {f.strip() for f in (request.param("fields") or "").split(",") if f.strip()}
    for name in sorted(requested - {"customProperties"}):
        raise ApiError(400, f"Invalid field name {name}")
    return requested


@route("GET", "/v1/metadata/types")
def list_types(app: SandboxApp, request: Request, params: dict) -> Response:
    category = (request.param("category") or "").lower() or None
    limit = page_limit(request)
    fields = _type_fields(request)
    with app.state.lock:
        found = sorted((t for t in app.state.entities["type"].values() if category in (None, t["category"])),
                       key=lambda t: t["name"])
        data = [types.view(app.state, t, fields) for t in found[:limit]]
    return Response(200, {"data": data, "paging": {"total": len(found)}})


@route_by_key("GET", "/v1/metadata/types")
def get_type(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    fields = _type_fields(request)
    with app.state.lock:
        return entity_response(200, types.view(app.state, lookup(app, "type", key, by), fields))


@route("PUT", "/v1/metadata/types/{key}")
def add_custom_property(app: SandboxApp, request: Request, params: dict) -> Response:
    body = app.parse("CustomProperty", request.json(), "org.openmetadata.schema.entity.type.CustomProperty")
    with app.state.lock:
        entity_type = lookup(app, "type", params["key"], "id")
        updated = types.add_property(app.state, entity_type, body, request.user)
        app.persist()
        changed = "entityUpdated" if updated is not entity_type else "entityNoChange"
        return entity_response(200, types.view(app.state, updated, {"customProperties"}), changed)


# --- routes: lineage ----------------------------------------------------------------------------


@route("PUT", "/v1/lineage")
def put_lineage(app: SandboxApp, request: Request, params: dict) -> Response:
    body = app.parse("AddLineage", request.json(), "org.openmetadata.schema.api.lineage.AddLineage")
    with app.state.lock:
        lineage.add_edge(app.state, body["edge"], request.user)
        app.persist()
    return Response(200, None)


def _lineage_of(app: SandboxApp, request: Request, kind: str, key: str, by: str) -> Response:
    """GET /v1/lineage/{type}/name/{fqn} and /v1/lineage/{type}/{id}."""
    if kind not in COLLECTIONS:
        raise ApiError(400, f"Invalid entity type {kind}")
    try:
        upstream = int(request.param("upstreamDepth", "1"))
        downstream = int(request.param("downstreamDepth", "1"))
    except ValueError:
        raise ApiError(400, "query param upstreamDepth/downstreamDepth must be a number") from None
    with app.state.lock:
        entity = lookup(app, kind, key, by)
        return Response(200, lineage.graph(app.state, kind, entity, upstream, downstream))


@route("GET", "/v1/lineage/{type}/name/{fqn}")
def get_lineage_by_name(app: SandboxApp, request: Request, params: dict) -> Response:
    return _lineage_of(app, request, params["type"], params["fqn"], "name")


@route("GET", "/v1/lineage/{type}/{id}")
def get_lineage(app: SandboxApp, request: Request, params: dict) -> Response:
    return _lineage_of(app, request, params["type"], params["id"], "id")


@route("DELETE", "/v1/lineage/{fromType}/name/{fromFqn}/{toType}/name/{toFqn}")
def delete_lineage_by_name(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        source = lookup(app, params["fromType"], params["fromFqn"], "name")
        target = lookup(app, params["toType"], params["toFqn"], "name")
        lineage.delete_edge(app.state, params["fromType"], source["id"], params["toType"], target["id"])
        app.persist()
    return Response(200, None)


@route("DELETE", "/v1/lineage/{fromType}/{fromId}/{toType}/{toId}")
def delete_lineage(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        lineage.delete_edge(app.state, params["fromType"], params["fromId"], params["toType"], params["toId"])
        app.persist()
    return Response(200, None)

