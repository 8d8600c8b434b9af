"""OpenMetadata's REST API, as mlmeta needs it: look up tables, users and friends, read ML models
(one at a time, or a whole service's in a few paged requests), create and patch them, read and
change lineage.

Everything leaves here as plain data (``catalog`` types and dicts shaped like the entity JSON),
so the planner never sees an SDK class - and never a release's quirks: the handshake reads the
server's version and ``mlmeta.catalog.releases`` says what that release does differently (one ``domain``
or a list of ``domains``, whether PATCH honours ``If-Match``, its known write bugs). This module
translates at the wire, so the rest of mlmeta speaks one shape. The wire work goes through
``mlmeta.http``, which owns retries and the meaning of transport failures.

No OpenMetadata SDK is imported, at all: its client refuses every server of another major.minor
(``server_mixin.validate_versions``), so one install of it could serve one release line only, and
it costs seconds to import. The bodies mlmeta sends are its own typed data; the server validates
them (a refusal writes nothing), and so does the sandbox, with each release's own schemas.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from mlmeta.catalog.records import Asset, CatalogError, Edge, Ref, flatten_children
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError
from mlmeta.catalog.fqn import split as fqn_parts
from mlmeta.http import Answer, HttpClient, HttpFailure
from mlmeta.catalog.releases import SANDBOX_HEADER, Capabilities, UnsupportedRelease, capabilities, supported_range

T = TypeVar("T")
log = logging.getLogger("mlmeta.openmetadata")
MODEL_FIELDS = ("owners", "tags", "dashboard", "sourceHash", "extension")  # and the release's domain field
# models per list page: the server allows up to 1,000,000; 250 keeps a page's parsed JSON (the
# peak memory of an unchanged run) small, for one request per 250 models
PAGE_SIZE = 250
HINT_PAGE = 1000  # names listed to find a "did you mean" among
# the assets a feature can come from: where each is read, with which fields, where its children are
_ASSETS: dict[str, tuple[str, str, Callable[[dict[str, Any]], list | None]]] = {
    "table": ("tables", "columns", lambda e: e.get("columns")),
    "topic": ("topics", "", lambda e: (e.get("messageSchema") or {}).get("schemaFields")),
    "container": ("containers", "dataModel", lambda e: (e.get("dataModel") or {}).get("columns")),
    "dashboardDataModel": ("dashboard/datamodels", "", lambda e: e.get("columns")),
    "searchIndex": ("searchIndexes", "", lambda e: e.get("fields")),
}
_COLLECTIONS = {"user": "users", "team": "teams", "dashboard": "dashboards", "domain": "domains", "tag": "tags",
                "glossaryTerm": "glossaryTerms", "mlmodelService": "services/mlmodelServices"}


def _announces_sandbox(headers: dict[str, str]) -> bool:
    """Did ``mlmeta sandbox`` answer (its version answer carries SANDBOX_HEADER; header names are
    case-insensitive, and a proxy may change their case)?"""
    return any(name.lower() == SANDBOX_HEADER.lower() for name in headers)


def _without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
    return uri


def _token_subject(token: str) -> str | None:
    """The user a JWT speaks for. Read, not verified: the server verifies; we only compare names."""
    import jwt

    try:
        return jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None


def _property_types(entity_type: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: (p.get("propertyType") or {}).get("name", "") for p in entity_type.get("customProperties") or []}


class OpenMetadataCatalog:
    """A connection to one OpenMetadata server; thread-safe (shared caches behind a lock)."""

    def __init__(self, settings: Settings) -> None:
        self._api_url = settings.api_url()
        token = settings.require_token()
        self.user = _token_subject(token)  # who our writes are recorded as (updatedBy)
        self.http = HttpClient(self._api_url, server="OpenMetadata", setting=settings.where("openmetadata_host"),
                               limits=settings.limits(), verify=settings.tls_verify(),
                               headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self._cache: dict[tuple[str, str], Any] = {}
        self._listed: dict[str, dict[str, dict[str, Any]]] = {}  # service -> model FQN -> entity, read in bulk
        self._lock = threading.Lock()
        self._noted_workaround = False
        self.release = self._handshake()

    @property
    def requests(self) -> int:
        """HTTP requests sent to OpenMetadata so far, retries included."""
        return self.http.requests

    # --- connection ---------------------------------------------------------------------------

    def _handshake(self) -> Capabilities:
        """Is this an OpenMetadata server mlmeta supports, and which release? (one unauthenticated GET)"""
        try:
            answer = self._send("GET", "/v1/system/version")
        except CatalogError as error:  # 5xx or 429 after every retry: the server's state, not a bug of mlmeta
            raise ServerError(f"OpenMetadata at {self._api_url} {error.message.removeprefix('OpenMetadata ')}",
                              hint="the server is failing (its logs say why); rerun when it is healthy, "
                                   "-v shows every retry") from None
        body = answer.json()
        if not answer.ok or not isinstance(body, dict) or "version" not in body:
            what = "an HTML page" if answer.looks_like_html() else f"HTTP {answer.status}"
            raise ConfigError("OPENMETADATA_HOST", f"no OpenMetadata API answers at {self._api_url} "
                                                   f"(GET /v1/system/version gave {what})",
                              hint="use the server's base URL, e.g. https://openmetadata.example.com")
        try:
            release = replace(capabilities(str(body["version"])), sandbox=_announces_sandbox(answer.headers))
        except UnsupportedRelease as error:
            raise ServerError(f"OpenMetadata at {self._api_url} answers version {body['version']!r}: {error}",
                              hint=f"mlmeta supports OpenMetadata {supported_range()}; upgrade the server, or point "
                                   "OPENMETADATA_HOST at one of those") from None
        log.info("%s", release.summary())
        for line in release.consequences():
            log.debug("%s", line)
        if release.newer_than_known:
            log.warning("OpenMetadata %s is newer than any release mlmeta knows (newest: %s): going on with %s's "
                        "behaviour; every write is checked against what the server holds", release.version,
                        supported_range(), release.assumed)
        return release

    @property
    def server_version(self) -> str:
        return self.release.version.text

    @property
    def model_fields(self) -> str:
        return ",".join((*MODEL_FIELDS, self.release.domain_field))

    def _send(self, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            return self.http.request(method, path, **kwargs)
        except HttpFailure as failure:
            raise CatalogError(failure.status, str(failure), transient=True, retried=True) from None

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; its JSON on success, else CatalogError (401/403: a configuration error)."""
        answer = self._send(method, path, **kwargs)
        if answer.ok:
            body = answer.json()
            if body is None and answer.text and answer.looks_like_html():
                raise ConfigError("OPENMETADATA_HOST", f"{self._api_url} answered {method} {path} with an HTML "
                                                       "page: a UI or a proxy, not the OpenMetadata API")
            return body
        if answer.status == 401:
            raise ConfigError("OPENMETADATA_JWT_TOKEN", f"the server rejected the token (HTTP 401: {answer.message()})",
                              hint="use a bot's JWT from Settings > Bots in OpenMetadata")
        if answer.status == 403:
            raise ConfigError("OPENMETADATA_JWT_TOKEN", f"the token's user may not {method} {path.split('?')[0]} "
                                                        f"(HTTP 403: {answer.message()})",
                              hint="give the bot a role whose policy allows it (e.g. EditAll and Create on "
                                   "mlmodel, EditLineage on the source tables)")
        raise CatalogError(answer.status, answer.message(), retried=answer.retried)

    def _get_or_none(self, path: str) -> Any:
        """GET an entity; None when the server answers 404."""
        try:
            return self._request("GET", path)
        except CatalogError as error:
            if error.status == 404:
                return None
            raise

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = load()
        with self._lock:
            return self._cache.setdefault(key, value)

    # --- catalog look-ups (cached for the run: each distinct entity is fetched once) ----------

    def asset(self, kind: str, fqn: str) -> Asset | None:
        """A table, topic, container, dashboard data model or search index, with its columns or schema
        fields (nested ones too); deleted ones are found and marked so."""
        collection, fields, children = _ASSETS[kind]

        def load() -> Asset | None:
            query = f"?fields={fields}&include=all" if fields else "?include=all"
            data = self._get_or_none(f"/v1/{collection}/name/{quote(fqn, safe='')}{query}")
            if data is None:
                return None
            return Asset(id=data["id"], type=kind, fqn=data["fullyQualifiedName"], name=data["name"],
                         deleted=bool(data.get("deleted")), children=flatten_children(children(data)))

        return self._cached((kind, fqn), load)

    def reference(self, kind: str, name: str) -> Ref | None:
        """A user, team, dashboard, domain, tag, glossaryTerm or mlmodelService by name/FQN."""

        def load() -> Ref | None:
            data = self._get_or_none(f"/v1/{_COLLECTIONS[kind]}/name/{quote(name, safe='')}")
            if data is None:
                return None
            return Ref(id=data["id"], type=kind, name=data["name"], fqn=data["fullyQualifiedName"])

        return self._cached((kind, name), load)

    def names(self, kind: str, parent: str | None = None) -> list[str]:
        """The FQNs of a kind's entities - under ``parent`` (a table's schema, another asset's
        service) when given - to suggest the one a spec meant. Read only when a name was not found;
        one page of HINT_PAGE is enough for a hint, and a server that will not list gives none."""
        collection = _ASSETS[kind][0] if kind in _ASSETS else _COLLECTIONS[kind]
        params = {"limit": str(HINT_PAGE)}
        if parent:
            params["databaseSchema" if kind == "table" else "service"] = parent

        def load() -> list[str]:
            try:
                page = self._request("GET", f"/v1/{collection}", params=params)
            except (CatalogError, ConfigError):  # a hint is a courtesy: never the reason a command stops
                return []
            return [e.get("fullyQualifiedName") or e.get("name", "") for e in (page or {}).get("data") or []]

        return self._cached((f"names:{kind}", parent or ""), load)

    def user_entity(self, name: str) -> dict[str, Any] | None:
        """A user (a bot is one) with its roles; None when the server has no such user. An
        authenticated read: a rejected token is a ConfigError here."""
        return self._get_or_none(f"/v1/users/name/{quote(name, safe='')}?fields=roles")

    # --- ML models ----------------------------------------------------------------------------

    def iter_models(self, service: str) -> Iterator[dict[str, Any]]:
        """Every (non-deleted) ML model of a service, page by page (PAGE_SIZE each); nothing when the
        service does not exist."""
        after: str | None = None
        while True:
            params = {"service": service, "fields": self.model_fields, "limit": str(PAGE_SIZE)}
            if after:
                params["after"] = after
            try:
                page = self._request("GET", "/v1/mlmodels", params=params)
            except CatalogError as error:
                if error.status == 404:
                    return
                raise
            for entity in page.get("data") or []:
                yield self._as_read(entity)
            after = (page.get("paging") or {}).get("after")
            if not after:
                return

    def prefetch_models(self, services: list[str],
                        keep: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda entity: entity) -> None:
        """Read the models of these services in bulk; ``model()`` then answers from memory. ``keep``
        says what to hold of each (the entity, a smaller stub, or None for a model this run does not
        touch), so that memory follows the work to do, not the size of the catalog."""
        for service in sorted(set(services)):
            kept = {}
            for entity in self.iter_models(service):
                value = keep(entity)
                if value is not None:
                    kept[entity["fullyQualifiedName"]] = value
            with self._lock:
                self._listed[service] = kept

    def model(self, model_fqn: str, *, fresh: bool = False, include_deleted: bool = False) -> dict[str, Any] | None:
        """The model as the server has it: from the service's bulk read when there was one, unless
        ``fresh`` (a re-read after a conflict) or ``include_deleted`` asks the server again."""
        if not (fresh or include_deleted):
            with self._lock:
                listed = self._listed.get(fqn_parts(model_fqn)[0])
            if listed is not None:
                return listed.get(model_fqn)  # None: not in the service's listing, no request needed
        suffix = "&include=all" if include_deleted else ""
        return self._as_read(self._get_or_none(f"/v1/mlmodels/name/{quote(model_fqn, safe='')}"
                                               f"?fields={self.model_fields}{suffix}"))

    def etag(self, model_fqn: str) -> str | None:
        """The model's ETag as a read with mlmeta's fields answers it (releases from 1.9 send one; from
        2.0 it hashes the entity as read, so the same fields give the same tag): what a saved plan
        records and checks again. None when the release sends none, or the model is not there."""
        answer = self._send("GET", f"/v1/mlmodels/name/{quote(model_fqn, safe='')}?fields={self.model_fields}")
        if answer.status == 404:
            return None
        if not answer.ok:
            raise CatalogError(answer.status, answer.message(), retried=answer.retried)
        tag = next((value for key, value in answer.headers.items() if key.lower() == "etag"), None)
        # Jetty marks the ETag of a compressed answer with --gzip: the same entity either way
        return tag.replace('--gzip"', '"') if tag else None

    def reread(self, model_id: str) -> dict[str, Any] | None:
        """The model as the server holds it now, by id: what a write is checked against."""
        return self._as_read(self._get_or_none(f"/v1/mlmodels/{model_id}?fields={self.model_fields}"))

    def versions(self, model_id: str) -> list[dict[str, Any]]:
        """The model's version history, newest first (the server answers each as JSON text)."""
        history = self._request("GET", f"/v1/mlmodels/{model_id}/versions")
        return [self._as_read(json.loads(v) if isinstance(v, str) else v)
                for v in (history or {}).get("versions") or []]

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._as_read(self._request("POST", "/v1/mlmodels", json_body=self._create_body(request)))

    @property
    def locks_with_if_match(self) -> bool:
        """Whether a PATCH can carry ``If-Match``: the release honours it, and applies what it guards."""
        return self.release.has("if_match") and not self.release.has("if_match_drops_entity_fields")

    def patch_model(self, model_id: str, operations: list[dict[str, Any]], version: float | None) -> dict[str, Any]:
        """Apply a JSON Patch only if the model is still at ``version``: by ``If-Match`` where the release
        honours it and applies what it guards; elsewhere by re-reading the version right before the
        PATCH. Either way a model that moved is a CatalogError 412 (re-read and plan again).
        ``version`` None: apply it whatever the version (a write of mlmeta's own bookkeeping)."""
        headers = {"Content-Type": "application/json-patch+json"}
        if version is None:
            pass
        elif self.locks_with_if_match:
            headers["If-Match"] = f'W/"{version}"'
        else:
            self._workaround_noted()
            found = self._get_or_none(f"/v1/mlmodels/{model_id}")
            if found is None:
                raise CatalogError(404, f"mlmodel instance for {model_id} not found")
            if found.get("version") != version:
                raise CatalogError(412, f"the model moved from version {version} to {found.get('version')} since "
                                        "it was read")
        answer = self._request("PATCH", f"/v1/mlmodels/{model_id}", headers=headers,
                               data=json.dumps(self._patch_operations(operations)))
        return self._as_read(answer)

    def _workaround_noted(self) -> None:
        with self._lock:
            if self._noted_workaround:
                return
            self._noted_workaround = True
        if self.release.has("if_match_drops_entity_fields"):
            log.info("OpenMetadata %s does not store ML-model fields from a PATCH that carries If-Match (issue 28876): "
                     "mlmeta re-reads each model's version right before its PATCH and sends it without If-Match",
                     self.server_version)
        else:
            log.info("OpenMetadata %s ignores If-Match (it arrives in 1.9): mlmeta re-reads each model's version right "
                     "before its PATCH", self.server_version)

    # --- one shape for every release ------------------------------------------------------------

    def _as_read(self, entity: dict[str, Any] | None) -> dict[str, Any] | None:
        """An entity as mlmeta handles it whatever the release: a list of ``domains``."""
        if entity is not None and not self.release.has("domains") and "domain" in entity:
            domain = entity.pop("domain")
            entity["domains"] = [domain] if domain else []
        return entity

    def _create_body(self, request: dict[str, Any]) -> dict[str, Any]:
        """A create request in the release's shape: before 1.9, one ``domain`` (an FQN)."""
        if self.release.has("domains") or "domains" not in request:
            return request
        body = dict(request)
        domains = body.pop("domains")
        if len(domains) > 1:
            raise CatalogError(400, f"OpenMetadata {self.server_version} holds one domain per entity")
        if domains:
            body["domain"] = domains[0]
        return body

    def _patch_operations(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """JSON Patch operations in the release's shape: before 1.9, ``/domain`` holds one reference."""
        if self.release.has("domains"):
            return operations
        translated = []
        for operation in operations:
            if operation.get("path") == "/domains":
                value = operation.get("value") or []
                operation = ({"op": "add", "path": "/domain", "value": value[0]} if operation["op"] != "remove" and value
                             else {"op": "remove", "path": "/domain"})
            translated.append(operation)
        return translated

    def delete_model(self, model_id: str) -> dict[str, Any]:
        """Soft delete: the model keeps its history and lineage, and can be restored."""
        return self._request("DELETE", f"/v1/mlmodels/{model_id}?hardDelete=false&recursive=false")

    def restore_model(self, model_id: str) -> dict[str, Any]:
        return self._request("PUT", "/v1/mlmodels/restore", json_body={"id": model_id})

    def create_service(self, name: str, tracking_uri: str | None, registry: str = "mlflow") -> None:
        """The ML model service of the registry's kind: with its connection where OpenMetadata has a
        connector for the registry, else a custom ML model service that says whose models it holds."""
        from mlmeta.registry.table import kind_of

        kind = kind_of(registry)
        request: dict[str, Any] = {"name": name, "serviceType": kind.service_type}
        if kind.service_connection is None:
            request["description"] = f"Models of the {registry} registry, published by mlmeta."
        elif tracking_uri:
            public = _without_credentials(tracking_uri)  # the catalog shows it to everyone
            request["connection"] = {"config": {"type": kind.service_connection, "trackingUri": public,
                                                "registryUri": public}}
        self._request("PUT", "/v1/services/mlmodelServices", json_body=request)
        with self._lock:
            self._cache.pop(("mlmodelService", name), None)

    # --- custom properties (the types API) -------------------------------------------------------

    def entity_type(self, name: str) -> dict[str, Any]:
        """An entity type (``mlmodel``) with its custom properties; read once per run."""
        return self._cached(("type", name), lambda: self._request(
            "GET", f"/v1/metadata/types/name/{quote(name, safe='')}?fields=customProperties"))

    def custom_properties(self, entity_type: str) -> dict[str, str]:
        """The custom properties an entity type defines: name -> property type name."""
        return _property_types(self.entity_type(entity_type))

    def property_type_id(self, name: str) -> str:
        """The id of a property type (``string``, ``integer``, ``table-cp`` ...)."""
        return self._cached(("propertyType", name), lambda: self._request(
            "GET", f"/v1/metadata/types/name/{quote(name, safe='')}")["id"])

    def add_custom_property(self, entity_type: str, definition: dict[str, Any]) -> dict[str, str]:
        """Define a property on an entity type (the server replaces one of the same name); the
        properties the answer shows (name -> type name)."""
        type_id = self.entity_type(entity_type)["id"]
        answer = self._request("PUT", f"/v1/metadata/types/{type_id}", json_body=definition)
        with self._lock:
            self._cache.pop(("type", entity_type), None)
        return _property_types(answer or {})

    # --- lineage --------------------------------------------------------------------------------

    def edges(self, model_fqn: str) -> list[Edge]:
        """The model's edges both ways, one hop: feature sources (upstream) and outputs (downstream),
        in one read."""
        graph = self._request("GET", f"/v1/lineage/mlmodel/name/{quote(model_fqn, safe='')}"
                                     "?upstreamDepth=1&downstreamDepth=1")
        nodes = {n["id"]: n for n in graph.get("nodes") or []}
        model_id = (graph.get("entity") or {}).get("id")
        edges = []
        for key, far_end, downstream in (("upstreamEdges", "fromEntity", False), ("downstreamEdges", "toEntity", True)):
            for edge in graph.get(key) or []:
                near_end = edge.get("toEntity" if far_end == "fromEntity" else "fromEntity")
                if model_id is not None and near_end != model_id:
                    continue  # an edge one hop further out is not the model's
                node = nodes.get(edge[far_end], {})
                edges.append(Edge(asset_id=edge[far_end], asset_type=node.get("type", "table"),
                                  asset_fqn=node.get("fullyQualifiedName", ""), details=edge.get("lineageDetails"),
                                  asset_deleted=bool(node.get("deleted")), downstream=downstream))
        return edges

    def add_edge(self, source: Ref, target: Ref, details: dict[str, Any]) -> None:
        """Draw (or redraw: the server replaces an edge's details) an edge between an asset and a model."""
        request = {"edge": {"fromEntity": {"id": source.id, "type": source.type},
                            "toEntity": {"id": target.id, "type": target.type}, "lineageDetails": details}}
        self._request("PUT", "/v1/lineage", json_body=request)

    def delete_edge(self, source: tuple[str, str], target: tuple[str, str]) -> None:
        """Remove the edge between (type, id) ends."""
        try:
            self._request("DELETE", f"/v1/lineage/{source[0]}/{source[1]}/{target[0]}/{target[1]}")
        except CatalogError as error:
            if error.status != 404:  # already gone (a retried delete, or someone else): fine
                raise
