"""The sandbox's HTTP side: routes shaped like OpenMetadata's ``/api/v1``, auth, faults, counters.

Request bodies are validated with the generated models of the release played (extra fields are
rejected with a 400 like the server's; see ``releases``), so what passes here is what a server of
that release would parse. Errors are ``{"code": N, "message": "..."}`` as the server sends them.
What differs between releases (If-Match, ETags, names) asks ``app.release``, the record mlmeta
itself reads (``mlmeta.catalog.releases``).
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonpatch
import jwt

from mlmeta.catalog import fqn
from mlmeta.catalog.releases import SANDBOX_HEADER, Capabilities, capabilities
from mlmeta.standins.openmetadata import lineage, semantics, types
from mlmeta.standins.openmetadata import schemas as releases
from mlmeta.standins.openmetadata.faults import Counters, Fault, Faults
from mlmeta.standins.http_input import MAX_BODY, BodyRefused, GuardedHandler, parse_json
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import COLLECTIONS, TYPE_OF_COLLECTION, NotFound, State, now_ms
from mlmeta.standins.openmetadata.tokens import QUICKSTART

log = logging.getLogger("mlmeta.sandbox")
CHANGE_HEADER = "X-OpenMetadata-Change"
PUBLIC_PATHS = ("/api/v1/system/version",)
GZIP_MIN_BYTES = 256  # Dropwizard's gzip.minimumEntitySize


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: dict[str, Any] | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        try:
            return parse_json(self.body or b"null")
        except BodyRefused as error:
            raise ApiError(400, f"Unable to process JSON: {error.message}") from None
        except ValueError as error:
            raise ApiError(400, f"Unable to process JSON: {error}") from None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    etag: bool = False  # an entity: releases from 1.9 send its ETag


Handler = Callable[["SandboxApp", Request, dict[str, str]], Response]
ROUTES: list[tuple[str, re.Pattern, str, Handler]] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    pattern = re.compile("^/api" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, pattern, f"{method} {template}", handler))
        return handler

    return register


def route_by_key(method: str, prefix: str) -> Callable[[Callable], Callable]:
    """Register a handler ``(app, request, key, by)`` under ``prefix/name/{key}`` (by FQN) and
    ``prefix/{key}`` (by id), as the server offers both for every entity."""

    def register(handler: Callable) -> Callable:
        route(method, f"{prefix}/name/{{key}}")(lambda app, request, params: handler(app, request, params["key"], "name"))
        route(method, f"{prefix}/{{key}}")(lambda app, request, params: handler(app, request, params["key"], "id"))
        return handler

    return register


class SandboxApp:
    """State plus behaviour; the HTTP handler below only translates bytes to calls."""

    def __init__(self, state: State, faults: Faults, *, state_file: Path | None = None,
                 server_version: str | None = None, quirks: frozenset[str] = frozenset(),
                 schemas: releases.ReleaseSchemas | None = None) -> None:
        self.state = state
        self.faults = faults
        self.counters = Counters()
        self.state_file = state_file
        self.server_version = server_version or releases.DEFAULT_VERSION
        # the release played: its behaviour (the record mlmeta itself reads) and its own schemas
        self.release = capabilities(self.server_version, extra=quirks)
        state.release = self.release
        self.schemas = schemas or releases.schemas(self.server_version)

    def has(self, behaviour: str) -> bool:
        return self.release.has(behaviour)

    # --- request bodies and parameters, as the release played parses them ----------------------

    def parse(self, model: str, data: Any, java_class: str) -> dict[str, Any]:
        """Validate a body with the release's generated model (a field it does not know is a 400)."""
        from pydantic import ValidationError

        try:
            parsed = self.schemas.model(model).model_validate(data)
        except ValidationError as error:
            raise _validation_error(error, java_class) from None
        if model in ("CreateMlModel", "MlModel", "CreateMlModelService"):
            self._check_names(data)
        return parsed.model_dump(mode="json", exclude_none=True, by_alias=True)

    def _check_names(self, data: dict[str, Any]) -> None:
        """basic.json's entityName pattern, which the SDK's generated models leave out: 1.x refuses
        '::' (and, Java's '.' being what it is, line terminators); 2.0 also '>', '"' and control
        characters (PR 30211)."""
        strict = self.has("strict_names")
        pattern = '^((?!::)[^>\"\\x00-\\x1f])*$' if strict else "^((?!::).)*$"
        banned = (lambda c: c in '>"' or ord(c) < 0x20) if strict else (lambda c: c in "\n\r\u0085\u2028\u2029")
        named = [("name", data.get("name"))] + [(f"mlFeatures[{i}].name", f.get("name"))
                                                for i, f in enumerate(data.get("mlFeatures") or [])
                                                if isinstance(f, dict)]
        for where, name in named:
            if isinstance(name, str) and ("::" in name or any(banned(c) for c in name)):
                raise ApiError(400, f'[{where} must match "{pattern}"]')

    def fields(self, request: Request, model: str) -> set[str]:
        """The ``fields`` parameter, checked against the entity's schema in this release."""
        text = request.param("fields") or ""
        requested = {f.strip() for f in text.split(",") if f.strip()}
        allowed = self.schemas.fields(model)
        if "*" in requested:  # every field the entity has
            return allowed
        for name in sorted(requested):
            if name not in allowed:
                raise ApiError(400, f"Invalid field name {name}")
        return requested

    # --- auth --------------------------------------------------------------------------------

    def issue_token(self, user_name: str) -> str:
        with self.state.lock:
            user = self.state.by_name("user", user_name)
        claims = {"sub": user["name"], "iss": "open-metadata.org", "isBot": bool(user.get("isBot")),
                  "email": user["email"], "iat": int(time.time())}
        return jwt.encode(claims, self.state.secret, algorithm="HS256")

    def authenticate(self, request: Request) -> dict[str, Any]:
        token = _bearer_token(request)
        if token in QUICKSTART:  # the quickstart's public tokens, recognised by value (see tokens.py)
            name, is_bot = QUICKSTART[token]
            claims = {"sub": name, "isBot": is_bot}
        else:
            try:
                claims = jwt.decode(token, self.state.secret, algorithms=["HS256"])
            except jwt.PyJWTError:
                raise ApiError(401, "Not Authorized! Invalid token") from None
        with self.state.lock:
            try:
                user = self.state.by_name("user", claims.get("sub", ""))
            except NotFound:
                raise ApiError(401, "Not Authorized! User not found") from None
        return {**user, "isBot": bool(claims.get("isBot"))}

    def authenticate_operator(self, request: Request) -> dict[str, Any]:
        """Who may use the sandbox's own control routes (``/_sandbox/``): an admin, with a token this
        sandbox signed. The quickstart's admin token is refused there: it is public, so it would
        let anyone who reaches the port reset the catalog or inject faults."""
        if _bearer_token(request) in QUICKSTART:
            raise ApiError(403, "the quickstart's public tokens do not open /_sandbox/ routes: use the admin "
                                "token the sandbox wrote (tokens.json, admin.jwt)")
        user = self.authenticate(request)
        if not user.get("isAdmin"):
            raise ApiError(403, f"/_sandbox/ routes are for an admin; {user['name']} is not one")
        return user

    # --- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> tuple[str, Response]:
        for method, pattern, name, handler in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                if request.path not in PUBLIC_PATHS:
                    request.user = self.authenticate(request)
                    _authorize(request)
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                return name, handler(self, request, params)
        if any(pattern.match(request.path) for _, pattern, _, _ in ROUTES):
            return f"{request.method} (unsupported)", Response(405, {"code": 405, "message": "HTTP 405 Method Not Allowed"})
        return f"{request.method} (unknown)", Response(404, {"code": 404, "message": "HTTP 404 Not Found"})

    def persist(self) -> None:
        if self.state_file is not None:
            self.state.save(self.state_file)


# --- helpers ------------------------------------------------------------------------------------

READ_ONLY_ROLES = {"DataConsumer"}  # the server's default role: view, no create/edit/delete


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "Not Authorized! Token not present")
    return header[7:].strip()


def _authorize(request: Request) -> None:
    """A user whose roles only allow reading gets the server's 403 for any write."""
    roles = {role["name"] for role in request.user.get("roles") or []}
    if request.method == "GET" or not roles or not roles <= READ_ONLY_ROLES or request.user.get("isAdmin"):
        return
    operation = {"POST": "Create", "PATCH": "EditAll", "DELETE": "Delete"}.get(request.method, "EditAll")
    if request.path.startswith("/api/v1/lineage"):
        operation = "EditLineage"
    raise ApiError(403, f"Principal: CatalogPrincipal{{name='{request.user['name']}'}} operations [{operation}] "
                        "not allowed")



def _validation_error(error: Any, java_class: str) -> ApiError:
    first = error.errors()[0]
    if first["type"] == "extra_forbidden":
        return ApiError(400, f'Unrecognized field "{first["loc"][-1]}" (class {java_class}), not marked as ignorable')
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return ApiError(400, f"[{where} must not be null]")
    return ApiError(400, f"[{where} {first['msg']}]")


def _include(request: Request) -> str:
    """``non-deleted`` (default), ``deleted`` (only soft-deleted ones) or ``all``."""
    include = (request.param("include") or "non-deleted").lower()
    if include not in ("all", "deleted", "non-deleted"):
        raise ApiError(400, "query param include must be one of [all, deleted, non-deleted]")
    return include


def strong_etag(entity: dict[str, Any], release: Capabilities) -> str:
    """EntityETag.generateETag: from 2.0 a hash of the entity as serialised (so it depends on the
    fields read, issue 30885); 1.9 to 1.13 a hash of ``version-updatedAt``."""
    if release.has("content_etags"):
        text = json.dumps(entity, sort_keys=True)
    else:
        text = f"{_java_double(entity['version'])}-{entity.get('updatedAt')}"
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:16] + '"'


def _java_double(value: float) -> str:
    return repr(float(value))  # Double.toString for versions such as 0.1, 1.0, 12.3


def _check_if_match(app: SandboxApp, request: Request, entity: dict[str, Any]) -> bool:
    """Optimistic locking as EntityETag.validateETag (1.9+): True when an If-Match was sent and
    honoured; releases before 1.9 ignore the header."""
    header = request.headers.get("if-match")
    if not header or not app.has("if_match"):
        return False
    current = strong_etag(entity, app.release)
    weak = f'W/"{_java_double(entity["version"])}"'
    # Jetty's GzipHandler appends --gzip to the ETags of compressed answers and strips it from If-Match
    for candidate in (c.strip().replace('--gzip"', '"') for c in header.split(",")):
        if candidate in ("*", current, weak):
            return True
    raise ApiError(412, f"The entity has been modified. Current ETag: {current}. "
                        "Please refresh and retry with the latest version.")


def _entity_response(status: int, entity: dict[str, Any], change: str | None = None) -> Response:
    headers = {CHANGE_HEADER: change} if change else {}
    return Response(status, entity, headers, etag=True)


def _lookup(app: SandboxApp, kind: str, key: str, by: str, include: str = "non-deleted") -> dict[str, Any]:
    try:
        find = app.state.by_name if by == "name" else app.state.by_id
        entity = find(kind, key, include_deleted=include != "non-deleted")
    except NotFound as error:
        raise semantics.not_found(error) from None
    if include == "deleted" and not entity.get("deleted"):
        raise semantics.not_found(NotFound(kind, key))
    return entity


def _generic_view(entity: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k not in semantics.FIELD_CONTROLLED or k in fields}


# --- routes: system, catalog reads ---------------------------------------------------------------


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
            entity = _lookup(app, kind, key, by, _include(request))
            return _entity_response(200, _generic_view(copy.deepcopy(entity), fields))

    return handler


def _catalog_delete(kind: str) -> Handler:
    """Soft delete (default) or hard delete of a catalog entity, so tests can retire a table. An ML
    model service that holds models goes only with ``recursive=true``, its models with it, as the
    server's ``deleteChildren`` does (``<type> is not empty`` otherwise)."""

    def handler(app: SandboxApp, request: Request, params: dict) -> Response:
        hard = (request.param("hardDelete") or "false").lower() == "true"
        recursive = (request.param("recursive") or "false").lower() == "true"
        with app.state.lock:
            entity = _lookup(app, kind, params["key"], "id", "all" if hard else "non-deleted")
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
            page, paging = _page(request, entities)
            data = [_generic_view(copy.deepcopy(e), fields) for e in page]
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
        return _entity_response(201, created, "entityCreated")
    if all(existing.get(k) == v for k, v in replaced.items()) and not existing.get("deleted"):
        return _entity_response(200, existing, "entityNoChange")
    updated = {**existing, **replaced, "deleted": False, "updatedAt": now_ms(), "updatedBy": request.user["name"],
               "version": round(existing["version"] + 0.1, 1)}
    app.state.put(kind, updated)
    app.persist()
    return _entity_response(200, updated, "entityUpdated")


@route("PUT", "/v1/tables")
def put_table(app: SandboxApp, request: Request, params: dict) -> Response:
    """Create or update a table (what an ingestion does when a schema changes): columns are
    replaced by the request's, a soft-deleted table comes back."""
    body = app.parse("CreateTable", request.json(), "org.openmetadata.schema.api.data.CreateTable")
    with app.state.lock:
        schema = _lookup(app, "databaseSchema", body["databaseSchema"], "name")
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
        service = _lookup(app, "messagingService", body["service"], "name")
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
        return _entity_response(201, service, "entityCreated")


def _update_service(app: SandboxApp, existing: dict[str, Any], body: dict[str, Any], user: dict[str, Any]) -> Response:
    """PUT of an existing service updates what the request says (and restores a deleted one)."""
    changed = {key: body.get(key) for key in ("serviceType", "description", "connection")
               if body.get(key) is not None and existing.get(key) != body.get(key)}
    if not changed and not existing.get("deleted"):
        return _entity_response(200, existing, "entityNoChange")
    updated = {**existing, **changed, "deleted": False, "updatedAt": now_ms(), "updatedBy": user["name"],
               "version": round(existing.get("version", 0.1) + 0.1, 1)}
    app.state.put("mlmodelService", updated)
    app.persist()
    return _entity_response(200, updated, "entityUpdated")


@route("PUT", "/v1/services/mlmodelServices")
def put_service(app: SandboxApp, request: Request, params: dict) -> Response:
    return _create_service(app, request, upsert=True)


@route("POST", "/v1/services/mlmodelServices")
def post_service(app: SandboxApp, request: Request, params: dict) -> Response:
    return _create_service(app, request, upsert=False)


# --- routes: ML models --------------------------------------------------------------------------


def _model_view(app: SandboxApp, request: Request, entity: dict[str, Any]) -> Response:
    return _entity_response(200, semantics.view(copy.deepcopy(entity), app.fields(request, "MlModel")))


@route_by_key("GET", "/v1/mlmodels")
def get_model(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    with app.state.lock:
        return _model_view(app, request, _lookup(app, "mlmodel", key, by, _include(request)))


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
        page, paging = _page(request, models)
        data = [semantics.view(copy.deepcopy(m), fields) for m in page]
    return Response(200, {"data": data, "paging": paging})


def _page(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of ``items`` (sorted by name) and its ``paging``: ``limit`` (default 10) at a time,
    after the opaque ``after`` cursor, with ``paging.after`` set while more remain."""
    limit = _limit(request)
    after = _cursor_name(request.param("after"))
    paging: dict[str, Any] = {"total": len(items)}
    if after is not None:
        items = [item for item in items if item["name"] > after]
    page = items[:limit]
    if len(items) > limit and page:
        paging["after"] = base64.b64encode(page[-1]["name"].encode()).decode()
    return page, paging


def _limit(request: Request) -> int:
    """The ``limit`` parameter of a list (default 10), a 400 when it is not a number in range."""
    try:
        limit = int(request.param("limit", "10"))
    except ValueError:
        raise ApiError(400, "query param limit must be a number") from None
    if not 0 <= limit <= 1_000_000:
        raise ApiError(400, "query param limit must be between 0 and 1000000")
    return limit


def _cursor_name(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid cursor in query param after") from None


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
            return _entity_response(201, created, "entityCreated")
        if not upsert:
            raise ApiError(409, "Entity already exists")
        updated = semantics.from_create_request(app.state, body)
        updated.update(id=original["id"])
        semantics.prepare(app.state, updated)
        # the server's createOrUpdate (PUT) never reads If-Match: last write wins
        how = semantics.Update("PUT", request.user, app.release)
        result, change, incremental = semantics.update(app.state, original, updated, how)
        app.persist()
        return _entity_response(200, {**result, "changeDescription": incremental}, change)


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
        original = _lookup(app, "mlmodel", key, by)
        optimistic = _check_if_match(app, request, original)
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
        return _entity_response(200, {**result, "changeDescription": incremental}, change)


@route("GET", "/v1/mlmodels/{id}/versions")
def list_versions(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        current = _lookup(app, "mlmodel", params["id"], "id", "all")
        history = [current, *reversed(app.state.history.get(current["id"], []))]
        return Response(200, {"entityType": "mlmodel", "versions": [json.dumps(v) for v in history]})


@route("GET", "/v1/mlmodels/{id}/versions/{version}")
def get_version(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        current = _lookup(app, "mlmodel", params["id"], "id", "all")
        for candidate in [current, *app.state.history.get(current["id"], [])]:
            if str(candidate["version"]) == params["version"]:
                return _entity_response(200, candidate)
    raise ApiError(404, f"mlmodel instance for {params['id']} and version {params['version']} not found")


@route_by_key("DELETE", "/v1/mlmodels")
def delete_model(app: SandboxApp, request: Request, key: str, by: str) -> Response:
    hard = (request.param("hardDelete") or "false").lower() == "true"
    with app.state.lock:
        entity = _lookup(app, "mlmodel", key, by, include="all")
        if not hard and entity.get("deleted"):
            return _entity_response(200, entity, None)  # already soft-deleted: nothing to do
        if hard:
            app.state.remove("mlmodel", entity)
            app.persist()
            return Response(200, entity, {CHANGE_HEADER: "entityDeleted"})
        deleted = _flip_deleted(app, entity, True, request.user)
        app.persist()
        return _entity_response(200, deleted, "entitySoftDeleted")


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
        entity = _lookup(app, "mlmodel", str(body["id"]), "id", include="all")
        if not entity.get("deleted"):
            raise ApiError(400, f"mlmodel instance for {entity['id']} is not deleted")
        restored = _flip_deleted(app, entity, False, request.user)
        app.persist()
        return _entity_response(200, restored, "entityRestored")


# --- routes: types (custom properties) ---------------------------------------------------------


def _type_fields(request: Request) -> set[str]:
    requested = {f.strip() for f in (request.param("fields") or "").split(",") if f.strip()}
    for name in sorted(requested - {"customProperties"}):
        raise ApiError(400, f"Invalid field name {name}")
    return requested


@route("GET", "/v1/metadata/types")
def list_types(app: SandboxApp, request: Request, params: dict) -> Response:
    category = (request.param("category") or "").lower() or None
    limit = _limit(request)
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
        return _entity_response(200, types.view(app.state, _lookup(app, "type", key, by), fields))


@route("PUT", "/v1/metadata/types/{key}")
def add_custom_property(app: SandboxApp, request: Request, params: dict) -> Response:
    body = app.parse("CustomProperty", request.json(), "org.openmetadata.schema.entity.type.CustomProperty")
    with app.state.lock:
        entity_type = _lookup(app, "type", params["key"], "id")
        updated = types.add_property(app.state, entity_type, body, request.user)
        app.persist()
        changed = "entityUpdated" if updated is not entity_type else "entityNoChange"
        return _entity_response(200, types.view(app.state, updated, {"customProperties"}), changed)


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
        entity = _lookup(app, kind, key, by)
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
        source = _lookup(app, params["fromType"], params["fromFqn"], "name")
        target = _lookup(app, params["toType"], params["toFqn"], "name")
        lineage.delete_edge(app.state, params["fromType"], source["id"], params["toType"], target["id"])
        app.persist()
    return Response(200, None)


@route("DELETE", "/v1/lineage/{fromType}/{fromId}/{toType}/{toId}")
def delete_lineage(app: SandboxApp, request: Request, params: dict) -> Response:
    with app.state.lock:
        lineage.delete_edge(app.state, params["fromType"], params["fromId"], params["toType"], params["toId"])
        app.persist()
    return Response(200, None)


# --- HTTP plumbing ------------------------------------------------------------------------------


def make_handler(app: SandboxApp, control: Callable[[Request], Response | None]) -> type[GuardedHandler]:
    class Handler(GuardedHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real server behind Jetty
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
        server_version = "mlmeta-sandbox"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), fmt % args)

        def version_string(self) -> str:
            return self.server_version  # what answers, without the Python version underneath

        def _handle(self) -> None:
            split = urlsplit(self.path)
            try:
                body = self.read_body(MAX_BODY)
            except BodyRefused as refused:
                self._send(Response(refused.status, {"code": refused.status, "message": refused.message}))
                return
            if body is None:  # the client hung up mid-body
                return
            request = Request(self.command, split.path, parse_qs(split.query),
                              {k.lower(): v for k, v in self.headers.items()}, body)
            private = control(request)
            if private is not None:
                self._send(private)
                return
            delay = app.faults.delay_seconds()
            if delay:
                time.sleep(delay)
            fault = app.faults.decide(request.method, request.path)
            if fault and fault.phase == "before":
                app.counters.count(self._route_name(request), faulted=True)
                self._fail(fault)
                return
            name, response = self._run(request)
            app.counters.count(name, faulted=fault is not None)
            if fault:
                self._fail(fault)
                return
            self._send(response)

        def _route_name(self, request: Request) -> str:
            for method, pattern, name, _ in ROUTES:
                if method == request.method and pattern.match(request.path):
                    return name
            return f"{request.method} (unknown)"

        def _run(self, request: Request) -> tuple[str, Response]:
            try:
                return app.dispatch(request)
            except ApiError as error:
                return self._route_name(request), Response(error.status, {"code": error.status,
                                                                          "message": error.message}, error.headers)
            except Exception as error:  # a sandbox bug must look like a server error, not kill the thread
                log.exception("sandbox error on %s %s", request.method, request.path)
                return self._route_name(request), Response(500, {"code": 500, "message": f"{type(error).__name__}: {error}"})

        def _fail(self, fault: Fault) -> None:
            if fault.status is None:  # drop: close the socket without answering
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            headers = {"Retry-After": str(app.faults.settings.retry_after)} if fault.status == 429 else {}
            self._send(Response(fault.status, {"code": fault.status, "message": f"injected fault {fault.status}"},
                                headers))

        def _send(self, response: Response) -> None:
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            headers = dict(response.headers or {})
            if response.etag and app.has("if_match"):
                headers["ETag"] = strong_etag(response.body, app.release)
            # every release runs Dropwizard's default gzip: answers of 256 bytes and more to clients that
            # accept it, the ETag marked --gzip by Jetty
            if len(payload) >= GZIP_MIN_BYTES and "gzip" in self.headers.get("Accept-Encoding", ""):
                payload = gzip.compress(payload, compresslevel=1)
                headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
                if "ETag" in headers:
                    headers["ETag"] = headers["ETag"][:-1] + '--gzip"'
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            if self.close_connection:  # a refused body: whatever the client still sends cannot be framed
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(app: SandboxApp, host: str, port: int, control: Callable[[Request], Response | None]) -> Server:
    server = Server((host, port), make_handler(app, control))
    app.state.base_url = f"http://{host}:{server.server_address[1]}"
    return server


def start_thread(server: Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="mlmeta-sandbox")
    thread.start()
    return thread
