"""The sandbox's routes for ML models: read, list, create or update (PUT, POST), PATCH with If-Match,
versions, soft and hard delete, restore - the behaviour itself is ``semantics``."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from mlmeta.catalog import fqn
from mlmeta.standins.openmetadata import semantics, types
from mlmeta.standins.openmetadata.app import Request, Response, SandboxApp, route, route_by_key
from mlmeta.standins.openmetadata.conventions import (
    CHANGE_HEADER,
    check_if_match,
    entity_response,
    include_filter,
    lookup,
    paged,
)
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import NotFound, now_ms


def _model_view(app: SandboxApp, request: Request, entity: dict[str, Any]) -> Response:
    return entity_response(200, semantics.view(copy.deepcopy(entity), app.fields(request, "MlModel")))


@route_by_key("GET", "/v1/mlmodels")
def get_model(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    with app.state.lock:
        return _model_view(app, request, lookup(app, "mlmodel", key, by, include_filter(request)))


@route("GET", "/v1/mlmodels")
def list_models(app: SandboxApp, request: Request, params: dict) -> Response:
    """A service's models (or all), ordered by name, paged as the server pages: ``limit`` (default
    10) and an opaque ``after`` cursor, with ``paging.after`` set while more remain."""
    service = request.param("service")
    fields = app.fields(request, "MlModel")
    with app.state.lock:
        models = sorted((m for m in app.state.entities["mlmodel"].values()
                         if not m.get("deleted") and (service is None or m["service"]["name"] == service)),
                        key=lambda m: m["name"])
        page, paging = paged(request, models)
        data = [semantics.view(copy.deepcopy(m), fields) for m in page]
    return Response(200, {"data": data, "paging": paging})


def _write_model(app: SandboxApp, request: Request, *, upsert: bool) -> Response:
    body = app.parse("CreateMlModel", request.json(), "org.openmetadata.schema.api.data.CreateMlModel")
    with app.state.lock:
        types.check_extension(app.state, "mlmodel", body.get("extension"))
        try:
            service = app.state.by_name("mlmodelService", body["service"])
        except NotFound as error:
            raise semantics.not_found(error) from None
        try:
            model_fqn = fqn.join(service["fullyQualifiedName"], body["name"])
        except fqn.FqnError:
            raise ApiError(400, f"Invalid name {body['name']}") from None
        try:
            original = app.state.by_name("mlmodel", model_fqn, include_deleted=True)
        except NotFound:
            original = None
        if original is None:
            created = semantics.create(app.state, body, request.user)
            app.persist()
            return entity_response(201, created, "entityCreated")
        if not upsert:
            raise ApiError(409, "Entity already exists")
        updated = semantics.from_create_request(app.state, body)
        updated.update(id=original["id"])
        semantics.prepare(app.state, updated)
        # the server's createOrUpdate (PUT) never reads If-Match: last write wins
        how = semantics.Update("PUT", request.user, app.release)
        result, change, incremental = semantics.update(app.state, original, updated, how)
        app.persist()
        return entity_response(200, {**result, "changeDescription": incremental}, change)


@route("PUT", "/v1/mlmodels")
def put_model(app: SandboxApp, request: Request, params: dict) -> Response:
    return _write_model(app, request, upsert=True)


@route("POST", "/v1/mlmodels")
def post_model(app: SandboxApp, request: Request, params: dict) -> Response:
    return _write_model(app, request, upsert=False)


@route_by_key("PATCH", "/v1/mlmodels")
def patch_model(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json-patch+json":
        raise ApiError(415, "HTTP 415 Unsupported Media Type")
    operations = request.json()
    with app.state.lock:
        original = lookup(app, "mlmodel", key, by)
        optimistic = check_if_match(app, request, original)
        try:
            patched = jsonpatch.apply_patch(copy.deepcopy(original), operations)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError) as error:
            raise ApiError(400, f"Invalid JSON patch: {error}") from None
        # restorePatchAttributes: these cannot change through PATCH; the change is ignored
        for attribute in ("id", "name", "fullyQualifiedName", "service", "href", "version", "updatedAt", "updatedBy",
                          "changeDescription"):
            if attribute in original:
                patched[attribute] = original[attribute]
            else:
                patched.pop(attribute, None)
        app.parse("MlModel", patched, "org.openmetadata.schema.entity.data.MlModel")
        types.check_extension(app.state, "mlmodel", patched.get("extension"))
        semantics.prepare(app.state, patched)
        how = semantics.Update("PATCH", request.user, app.release, optimistic=optimistic)
        result, change, incremental = semantics.update(app.state, original, patched, how)
        app.persist()
        return entity_response(200, {**result, "changeDescription": incremental}, change)


@route("GET", "/v1/mlmodels/{id}/versions")
def list_versions(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        current = lookup(app, "mlmodel", params["id"], "id", "all")
        history = [current, *reversed(app.state.history.get(current["id"], []))]
        return Response(200, {"entityType": "mlmodel", "versions": [json.dumps(v) for v in history]})


@route("GET", "/v1/mlmodels/{id}/versions/{version}")
def get_version(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        current = lookup(app, "mlmodel", params["id"], "id", "all")
        for candidate in [current, *app.state.history.get(current["id"], [])]:
            if str(candidate["version"]) == params["version"]:
                return entity_response(200, candidate)
    raise ApiError(404, f"mlmodel instance for {params['id']} and version {params['version']} not found")


@route_by_key("DELETE", "/v1/mlmodels")
def delete_model(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    hard = (request.param("hardDelete") or "false").lower() == "true"
    with app.state.lock:
        entity = lookup(app, "mlmodel", key, by, include="all")
        if not hard and entity.get("deleted"):
            return entity_response(200, entity, None)  # already soft-deleted: nothing to do
        if hard:
            app.state.remove("mlmodel", entity)
            app.persist()
            return Response(200, entity, {CHANGE_HEADER: "entityDeleted"})
        deleted = _flip_deleted(app, entity, True, request.user)
        app.persist()
        return entity_response(200, deleted, "entitySoftDeleted")


def _flip_deleted(app: SandboxApp, entity: dict[str, Any], deleted: bool, user: dict[str, Any]) -> dict[str, Any]:
    app.state.history.setdefault(entity["id"], []).append(copy.deepcopy(entity))
    changes = semantics.Changes()
    changes.record("deleted", entity.get("deleted", False), deleted)
    result = {**copy.deepcopy(entity), "deleted": deleted, "version": semantics.next_version(entity["version"], changes),
              "updatedAt": now_ms(), "updatedBy": user["name"], "changeDescription": changes.description(entity["version"])}
    return app.state.put("mlmodel", result)


@route("PUT", "/v1/mlmodels/restore")
def restore_model(app: SandboxApp, request: Request, params: dict) -> Response:
    body = request.json()
    if not isinstance(body, dict) or "id" not in body:
        raise ApiError(400, "[id must not be null]")
    with app.state.lock:
        entity = lookup(app, "mlmodel", str(body["id"]), "id", include="all")
        if not entity.get("deleted"):
            raise ApiError(400, f"mlmodel instance for {entity['id']} is not deleted")
        restored = _flip_deleted(app, entity, False, request.user)
        app.persist()
        return entity_response(200, restored, "entityRestored")
