"""What every entity route of the sandbox shares, as the server does it: lookups by name or id with
``include``, the entity answer with its change header, ETags and If-Match, and paging."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from mlmeta.catalog.releases import Capabilities
from mlmeta.standins.openmetadata import semantics
from mlmeta.standins.openmetadata.app import Request, Response, SandboxApp
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import NotFound

CHANGE_HEADER = "X-OpenMetadata-Change"


def include_filter(request: Request) -> str:
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


def check_if_match(app: SandboxApp, request: Request, entity: dict[str, Any]) -> bool:
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


def entity_response(status: int, entity: dict[str, Any], change: str | None = None) -> Response:
    headers = {CHANGE_HEADER: change} if change else {}
    return Response(status, entity, headers, etag=True)


def lookup(app: SandboxApp, kind: str, key: str, by: str, include: str = "non-deleted") -> dict[str, Any]:
    try:
        find = app.state.by_name if by == "name" else app.state.by_id
        entity = find(kind, key, include_deleted=include != "non-deleted")
    except NotFound as error:
        raise semantics.not_found(error) from None
    if include == "deleted" and not entity.get("deleted"):
        raise semantics.not_found(NotFound(kind, key))
    return entity


def generic_view(entity: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in entity.items() if k not in semantics.FIELD_CONTROLLED or k in fields}


def paged(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of ``items`` (sorted by name) and its ``paging``: ``limit`` (default 10) at a time,
    after the opaque ``after`` cursor, with ``paging.after`` set while more remain."""
    limit = page_limit(request)
    after = _cursor_name(request.param("after"))
    paging: dict[str, Any] = {"total": len(items)}
    if after is not None:
        items = [item for item in items if item["name"] > after]
    page = items[:limit]
    if len(items) > limit and page:
        paging["after"] = base64.b64encode(page[-1]["name"].encode()).decode()
    return page, paging


def page_limit(request: Request) -> int:
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

