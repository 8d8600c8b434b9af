"""The sandbox's routes for the catalog around ML models: the server's version, every collection's
list, reads and deletes, ingestion's upserts of tables and topics, and ML model services."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.catalog.releases import SANDBOX_HEADER
from mlmeta.standins.openmetadata.app import Handler, Request, Response, SandboxApp, route, route_by_key
from mlmeta.standins.openmetadata.conventions import (
    CHANGE_HEADER,
    entity_response,
    generic_view,
    include_filter,
    lookup,
    paged,
)
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import COLLECTIONS, TYPE_OF_COLLECTION, NotFound, State, now_ms


@route("GET", "/v1/system/version")
def system_version(app: SandboxApp, request: Request, params: dict) -> Response:
    # the body is the release's own shape (SDK clients parse it); the header says who plays it
    return Response(200, {"version": app.server_version, "revision": "mlmeta-sandbox", "timestamp": now_ms()},
                    {SANDBOX_HEADER: "mlmeta"})


# the data assets whose ``fields`` parameter is checked against the entity's schema, as the server does
_ASSET_MODELS = {"table": "Table", "topic": "Topic", "container": "Container",
                 "dashboardDataModel": "DashboardDataModel", "searchIndex": "SearchIndex"}


def _catalog_fields(app: SandboxApp, request: Request, kind: str) -> set[str]:
    return app.fields(request, _ASSET_MODELS[kind]) if kind in _ASSET_MODELS else {
        f.strip() for f in (request.param("fields") or "").split(",") if f.strip()}


def _catalog_get(kind: str) -> Callable:
    def handler(app: SandboxApp, request: Request, key: str, by: str) -> Response:
        fields = _catalog_fields(app, request, kind)
        with app.state.lock:
            entity = lookup(app, kind, key, by, include_filter(request))
            return entity_response(200, generic_view(copy.deepcopy(entity), fields))

    return handler


def _catalog_delete(kind: str) -> Handler:
    """Soft delete (default) or hard delete of a catalog entity, so tests can retire a table. An ML
    model service that holds models goes only with ``recursive=true``, its models with it, as the
    server's ``deleteChildren`` does (``<type> is not empty`` otherwise)."""

    def handler(app: SandboxApp, request: Request, params: dict) -> Response:
        hard = (request.param("hardDelete") or "false").lower() == "true"
        recursive = (request.param("recursive") or "false").lower() == "true"
        with app.state.lock:
            entity = lookup(app, kind, params["key"], "id", "all" if hard else "non-deleted")
            children = _models_of(app.state, entity) if kind == "mlmodelService" else []
            if children and not recursive:
                raise ApiError(400, f"{kind} is not empty")
            for child in children:
                _delete_entity(app, "mlmodel", child, hard, request.user)
            _delete_entity(app, kind, entity, hard, request.user)
            app.persist()
            return Response(200, entity, {CHANGE_HEADER: "entityDeleted" if hard else "entitySoftDeleted"})

    return handler


def _models_of(state: State, service: dict[str, Any]) -> list[dict[str, Any]]:
    """The ML models of a service, soft-deleted ones too."""
    return [m for m in state.entities["mlmodel"].values() if (m.get("service") or {}).get("id") == service["id"]]


def _delete_entity(app: SandboxApp, kind: str, entity: dict[str, Any], hard: bool, user: dict[str, Any]) -> None:
    """Hard: gone with its history and edges. Soft: marked deleted, as a new version."""
    if hard:
        app.state.remove(kind, entity)
    elif not entity.get("deleted"):
        entity.update(deleted=True, version=round(entity["version"] + 0.1, 1), updatedAt=now_ms(),
                      updatedBy=user["name"])


# what a catalog list may be narrowed to: the parent's FQN (a service by its name)
_LIST_PARENTS = ("service", "database", "databaseSchema")


def _catalog_list(kind: str) -> Handler:
    """A collection's (non-deleted) entities, narrowed to one parent when asked, paged."""

    def handler(app: SandboxApp, request: Request, params: dict) -> Response:
        fields = _catalog_fields(app, request, kind)
        parents = {key: request.param(key) for key in _LIST_PARENTS if request.param(key)}
        with app.state.lock:
            entities = sorted((e for e in app.state.entities[kind].values() if not e.get("deleted") and all(
                (e.get(key) or {}).get("fullyQualifiedName") == value for key, value in parents.items())),
                key=lambda e: e["name"])
            page, paging = paged(request, entities)
            data = [generic_view(copy.deepcopy(e), fields) for e in page]
        return Response(200, {"data": data, "paging": paging})

    return handler


# catalog entities: list, GET by name and by id, DELETE by id, for every collection but ML models
for _collection in sorted(set(COLLECTIONS.values()) - {"mlmodels", "metadata/types"}):
    route("GET", f"/v1/{_collection}")(_catalog_list(TYPE_OF_COLLECTION[_collection]))
    route_by_key("GET", f"/v1/{_collection}")(_catalog_get(TYPE_OF_COLLECTION[_collection]))
    route("DELETE", f"/v1/{_collection}/{{key}}")(_catalog_delete(TYPE_OF_COLLECTION[_collection]))


def _upsert_asset(app: SandboxApp, request: Request, kind: str, name: str, parent: dict[str, Any],
                  created_fields: dict[str, Any], replaced: dict[str, Any]) -> Response:
    """An ingestion's create-or-update of a catalog asset: a new one gets ``created_fields``; an
    existing one gets ``replaced`` (its columns or schema), and a soft-deleted one comes back."""
    asset_fqn = fqn.join(*fqn.split(parent["fullyQualifiedName"]), name)
    try:
        existing = app.state.by_name(kind, asset_fqn, include_deleted=True)
    except NotFound:
        existing = None
    if existing is None:
        created = app.state.add(kind, name, {**created_fields, **replaced, "updatedBy": request.user["name"]}, parent)
        app.persist()
        return entity_response(201, created, "entityCreated")
    if all(existing.get(k) == v for k, v in replaced.items()) and not existing.get("deleted"):
        return entity_response(200, existing, "entityNoChange")
    updated = {**existing, **replaced, "deleted": False, "updatedAt": now_ms(), "updatedBy": request.user["name"],
               "version": round(existing["version"] + 0.1, 1)}
    app.state.put(kind, updated)
    app.persist()
    return entity_response(200, updated, "entityUpdated")


@route("PUT", "/v1/tables")
def put_table(app: SandboxApp, request: Request, params: dict) -> Response:
    """Create or update a table (what an ingestion does when a schema changes): columns are
    replaced by the request's, a soft-deleted table comes back."""
    body = app.parse("CreateTable", request.json(), "org.openmetadata.schema.api.data.CreateTable")
    with app.state.lock:
        schema = lookup(app, "databaseSchema", body["databaseSchema"], "name")
        table_fqn = fqn.join(*fqn.split(schema["fullyQualifiedName"]), body["name"])
        columns = [app.state.column(table_fqn, c) for c in body.get("columns") or []]
        return _upsert_asset(app, request, "table", body["name"], schema, {
            "tableType": body.get("tableType", "Regular"), "service": schema["service"],
            "database": schema["database"], "databaseSchema": app.state.reference("databaseSchema", schema)},
            {"columns": columns})


@route("PUT", "/v1/topics")
def put_topic(app: SandboxApp, request: Request, params: dict) -> Response:
    """Create or update a topic (what an ingestion does when a schema registry changes): the
    message schema is replaced by the request's, its fields named below the topic."""
    body = app.parse("CreateTopic", request.json(), "org.openmetadata.schema.api.data.CreateTopic")
    with app.state.lock:
        service = lookup(app, "messagingService", body["service"], "name")
        schema = body.get("messageSchema")
        if schema is not None:
            topic_fqn = fqn.join(service["fullyQualifiedName"], body["name"])
            schema = {**schema, "schemaFields": app.state.children(topic_fqn, schema.get("schemaFields"),
                                                                   display=False)}
        return _upsert_asset(app, request, "topic", body["name"], service, {
            "service": app.state.reference("messagingService", service), "serviceType": service["serviceType"],
            "partitions": body["partitions"]}, {"messageSchema": schema})


def _create_service(app: SandboxApp, request: Request, *, upsert: bool) -> Response:
    body = app.parse("CreateMlModelService", request.json(), "org.openmetadata.schema.api.services.CreateMlModelService")
    with app.state.lock:
        try:
            existing = app.state.by_name("mlmodelService", body["name"], include_deleted=True)
        except NotFound:
            existing = None
        if existing is not None:
            if not upsert:
                raise ApiError(409, "Entity already exists")
            return _update_service(app, existing, body, request.user)
        service = app.state.add("mlmodelService", body["name"], {
            "serviceType": body["serviceType"], "description": body.get("description"),
            "connection": body.get("connection"), "updatedBy": request.user["name"]})
        app.persist()
        return entity_response(201, service, "entityCreated")


def _update_service(app: SandboxApp, existing: dict[str, Any], body: dict[str, Any], user: dict[str, Any]) -> Response:
    """PUT of an existing service updates what the request says (and restores a deleted one)."""
    changed = {key: body.get(key) for key in ("serviceType", "description", "connection")
               if body.get(key) is not None and existing.get(key) != body.get(key)}
    if not changed and not existing.get("deleted"):
        return entity_response(200, existing, "entityNoChange")
    updated = {**existing, **changed, "deleted": False, "updatedAt": now_ms(), "updatedBy": user["name"],
               "version": round(existing.get("version", 0.1) + 0.1, 1)}
    app.state.put("mlmodelService", updated)
    app.persist()
    return entity_response(200, updated, "entityUpdated")


@route("PUT", "/v1/services/mlmodelServices")
def put_service(app: SandboxApp, request: Request, params: dict) -> Response:
    return _create_service(app, request, upsert=True)


@route("POST", "/v1/services/mlmodelServices")
def post_service(app: SandboxApp, request: Request, params: dict) -> Response:
    return _create_service(app, request, upsert=False)
