"""The sandbox's application, between bytes and routes: the request and response records, the routing
table, auth, and each body checked as the release played parses it.

Request bodies are validated with the generated models of the release played (extra fields are
rejected with a 400 like the server's; see ``schemas``), so what passes here is what a server of
that release would parse. Errors are ``{"code": N, "message": "..."}`` as the server sends them.
What differs between releases (If-Match, ETags, names) asks ``app.release``, the record mlmeta
itself reads (``mlmeta.catalog.releases``). The routes register themselves here from their own
modules (``routes_*``); ``server`` is the HTTP side.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt

from mlmeta.catalog.releases import capabilities
from mlmeta.standins.http_input import BodyRefused, parse_json
from mlmeta.standins.openmetadata import schemas
from mlmeta.standins.openmetadata.faults import Counters, Faults
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import NotFound, State
from mlmeta.standins.openmetadata.tokens import QUICKSTART

PUBLIC_PATHS = ("/api/v1/system/version",)


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
    """State plus behaviour; the HTTP handler (``server``) only translates bytes to calls."""

    def __init__(self, state: State, faults: Faults, *, state_file: Path | None = None,
                 server_version: str | None = None, quirks: frozenset[str] = frozenset(),
                 release_schemas: schemas.ReleaseSchemas | None = None) -> None:
        self.state = state
        self.faults = faults
        self.counters = Counters()
        self.state_file = state_file
        self.server_version = server_version or schemas.DEFAULT_VERSION
        # the release played: its behaviour (the record mlmeta itself reads) and its own schemas
        self.release = capabilities(self.server_version, extra=quirks)
        state.release = self.release
        self.schemas = release_schemas or schemas.schemas(self.server_version)

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



# --- auth and body checks, below the app -------------------------------------------------------

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
