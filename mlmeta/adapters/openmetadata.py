"""The only module that imports the OpenMetadata SDK (openmetadata-ingestion): look up tables,
users and friends, read, create and patch ML models, read and change lineage.

Everything leaves here as plain data (``catalog`` types and dicts shaped like the entity JSON),
so the planner never sees an SDK class. Transient failures (429 with Retry-After, 5xx,
dropped connections, timeouts) are retried with backoff and a bound; the SDK's own retry loop
(30 s sleeps, and a 429 that blacklists a path for the client's lifetime) is switched off.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from mlmeta.catalog import CatalogError, Edge, Ref, TableInfo
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError

T = TypeVar("T")
log = logging.getLogger("mlmeta.openmetadata")
MODEL_FIELDS = "owners,tags,domains,dashboard,sourceHash"
MAX_ATTEMPTS = 8  # at a 30 % failure rate a request still fails only 0.007 % of the time
MAX_RETRY_AFTER = 30.0
# the SDK's REST client: no retries of its own, 429 is not a "limit" that disables a path
CLIENT_CONFIG = {"retry": 0, "retry_codes": [], "limit_codes": [], "timeout": (5, 60)}


def _status(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    return status


def is_transient(error: BaseException) -> bool:
    import requests
    from metadata.ingestion.ometa.client import RestTransportError

    if isinstance(error, (RestTransportError, requests.ConnectionError, requests.Timeout,
                          requests.exceptions.ChunkedEncodingError)):
        return True
    status = _status(error)
    return status == 429 or (status is not None and 500 <= status < 600)


def _wait(state: RetryCallState) -> float:
    """Retry-After when the server says (bounded), else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    response = getattr(error, "response", None)
    retry_after = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    if retry_after:
        try:
            return min(float(retry_after), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return wait_exponential_jitter(multiplier=0.1, max=2.0)(state)


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


class OpenMetadataCatalog:
    """A connection to one OpenMetadata server; thread-safe (a client per thread, shared caches)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._api_url = settings.api_url()
        self._token = settings.require_token()
        self._local = threading.local()
        self._cache: dict[tuple[str, str], Any] = {}
        self._cache_lock = threading.Lock()
        self.requests = 0  # HTTP calls made, retries included
        self.user = _token_subject(self._token)  # who our writes are recorded as (updatedBy)
        self._connect()

    # --- connection ---------------------------------------------------------------------------

    def _connection(self, validate_version: bool) -> Any:
        from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
            AuthProvider,
            OpenMetadataConnection,
        )
        from metadata.generated.schema.security.client.openMetadataJWTClientConfig import (
            OpenMetadataJWTClientConfig,
        )
        from metadata.generated.schema.security.ssl.verifySSLConfig import SslConfig, VerifySSL

        verify = self._settings.tls_verify()
        ssl: dict[str, Any] = {"verifySSL": VerifySSL.no_ssl}  # requests' default: verify with the CA store
        if isinstance(verify, str):
            ssl = {"verifySSL": VerifySSL.validate, "sslConfig": SslConfig({"caCertificate": verify})}
        elif verify is False:
            ssl = {"verifySSL": VerifySSL.ignore}
        return OpenMetadataConnection(hostPort=self._api_url, authProvider=AuthProvider.openmetadata,
                                      securityConfig=OpenMetadataJWTClientConfig(jwtToken=self._token),
                                      enableVersionValidation=validate_version, **ssl)

    def _connect(self) -> None:
        """The first client checks the server's version; a wrong host, token or version stops here."""
        with warnings.catch_warnings():  # the SDK's modules warn about themselves on import
            warnings.simplefilter("ignore")
            from metadata.ingestion.ometa.ometa_api import OpenMetadata

        try:
            self._local.client = self._call(
                lambda: OpenMetadata(self._connection(validate_version=True),
                                     additional_client_config_arguments=CLIENT_CONFIG))
        except Exception as error:  # noqa: BLE001 - translated into what the user can fix
            raise self._connect_error(error) from None

    def _connect_error(self, error: Exception) -> Exception:
        text = str(error)
        where = f"OpenMetadata at {self._api_url}"
        if "Version" in type(error).__name__ and "Server version is" in text:
            server = text.split("Server version is ")[1].split(" ")[0]
            major_minor = ".".join(server.split(".")[:2])
            return ServerError(f"{where} runs {server}; the installed SDK (openmetadata-ingestion) does not match it",
                               hint=f"install the matching client: pip install 'openmetadata-ingestion~={major_minor}.0' "
                                    "(mlmeta is tested with 2.0.x) or point OPENMETADATA_HOST at a 2.0 server")
        if "401" in text or "403" in text or "Not authorized" in text:
            return ConfigError("OPENMETADATA_JWT_TOKEN", f"{where} rejected the token (HTTP 401/403)",
                               hint="use a bot's JWT from Settings > Bots in OpenMetadata")
        if "SSL" in text or "certificate" in text.lower():
            return ServerError(f"cannot verify the TLS certificate of {where}",
                               hint="set OPENMETADATA_CA_BUNDLE (or ca_bundle) to your CA's certificate file")
        if "No OpenMetadata API found" in text or "HTML" in type(error).__name__:
            return ConfigError("OPENMETADATA_HOST", f"no OpenMetadata API answers at {self._api_url}",
                               hint="use the server's base URL, e.g. https://openmetadata.example.com")
        return ServerError(f"cannot reach {where}: {text.splitlines()[0] if text else type(error).__name__}",
                           hint="check OPENMETADATA_HOST and that the server is up")

    @property
    def _om(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from metadata.ingestion.ometa.ometa_api import OpenMetadata

            client = OpenMetadata(self._connection(validate_version=False),
                                  additional_client_config_arguments=CLIENT_CONFIG)
            self._local.client = client
        return client

    def _call(self, operation: Callable[[], T], attempts: list[int] | None = None) -> T:
        def counted() -> T:
            with self._cache_lock:
                self.requests += 1
            if attempts is not None:
                attempts.append(1)
            return operation()

        retrying = Retrying(retry=retry_if_exception(is_transient), wait=_wait, stop=stop_after_attempt(MAX_ATTEMPTS),
                            reraise=True)
        return retrying(counted)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call through the SDK's client; server errors become CatalogError."""
        from metadata.ingestion.ometa.client import APIError

        client = self._om.client
        attempts: list[int] = []
        try:
            return self._call(lambda: getattr(client, method)(path, **kwargs), attempts)
        except APIError as error:
            raise self._catalog_error(error, retried=len(attempts) > 1) from None
        except Exception as error:  # noqa: BLE001 - transport errors after the last retry
            status = _status(error)
            if status is not None:
                raise CatalogError(status, str(error), retried=len(attempts) > 1) from None
            raise CatalogError(0, f"{type(error).__name__}: {error}", transient=True) from None

    def _catalog_error(self, error: Any, retried: bool) -> CatalogError:
        status = _status(error) or getattr(error, "code", 0) or 0
        if status == 401:
            raise ConfigError("OPENMETADATA_JWT_TOKEN", "the server rejected the token (HTTP 401)")
        return CatalogError(int(status), str(error), transient=is_transient(error), retried=retried)

    def _get_or_none(self, path: str) -> Any:
        """GET an entity; None when the server answers 404."""
        try:
            return self._request("get", path)
        except CatalogError as error:
            if error.status == 404:
                return None
            raise

    def _cached(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        with self._cache_lock:
            if key in self._cache:
                return self._cache[key]
        value = load()
        with self._cache_lock:
            return self._cache.setdefault(key, value)

    # --- catalog look-ups (cached for the run: each distinct entity is fetched once) ----------

    def table(self, fqn: str) -> TableInfo | None:
        def load() -> TableInfo | None:
            data = self._get_or_none(f"/tables/name/{quote(fqn, safe='')}?fields=columns&include=all")
            if data is None:
                return None
            return TableInfo(id=data["id"], fqn=data["fullyQualifiedName"], name=data["name"],
                             deleted=bool(data.get("deleted")),
                             columns={c["name"]: c.get("dataType", "") for c in data.get("columns") or []})

        return self._cached(("table", fqn), load)

    def reference(self, kind: str, name: str) -> Ref | None:
        """A user, team, dashboard, domain, tag, glossaryTerm or mlmodelService by name/FQN."""
        collection = {"user": "users", "team": "teams", "dashboard": "dashboards", "domain": "domains",
                      "tag": "tags", "glossaryTerm": "glossaryTerms",
                      "mlmodelService": "services/mlmodelServices"}[kind]

        def load() -> Ref | None:
            data = self._get_or_none(f"/{collection}/name/{quote(name, safe='')}")
            if data is None:
                return None
            return Ref(id=data["id"], type=kind, name=data["name"], fqn=data["fullyQualifiedName"])

        return self._cached((kind, name), load)

    # --- ML models ----------------------------------------------------------------------------

    def model(self, fqn: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        suffix = "&include=all" if include_deleted else ""
        return self._get_or_none(f"/mlmodels/name/{quote(fqn, safe='')}?fields={MODEL_FIELDS}{suffix}")

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest

        body = CreateMlModelRequest.model_validate(request).model_dump_json(exclude_none=True, by_alias=True)
        return self._request("post", "/mlmodels", data=body)

    def patch_model(self, model_id: str, operations: list[dict[str, Any]], version: float) -> dict[str, Any]:
        """Apply a JSON Patch only if the model is still at ``version`` (If-Match; 412 otherwise)."""
        return self._request("patch", f"/mlmodels/{model_id}", data=json.dumps(operations),
                             headers={"If-Match": f'W/"{version}"'})

    def restore_model(self, model_id: str) -> dict[str, Any]:
        return self._request("put", "/mlmodels/restore", json={"id": model_id})

    def create_service(self, name: str, tracking_uri: str | None) -> None:
        from metadata.generated.schema.api.services.createMlModelService import CreateMlModelServiceRequest

        request: dict[str, Any] = {"name": name, "serviceType": "Mlflow"}
        if tracking_uri:
            public = _without_credentials(tracking_uri)  # the catalog shows it to everyone
            request["connection"] = {"config": {"type": "Mlflow", "trackingUri": public, "registryUri": public}}
        body = CreateMlModelServiceRequest.model_validate(request).model_dump_json(exclude_none=True, by_alias=True)
        self._request("put", "/services/mlmodelServices", data=body)
        with self._cache_lock:
            self._cache.pop(("mlmodelService", name), None)

    # --- lineage --------------------------------------------------------------------------------

    def upstream_edges(self, model_fqn: str) -> list[Edge]:
        graph = self._request("get", f"/lineage/mlmodel/name/{quote(model_fqn, safe='')}"
                                     "?upstreamDepth=1&downstreamDepth=0")
        nodes = {n["id"]: n for n in graph.get("nodes") or []}
        edges = []
        for edge in graph.get("upstreamEdges") or []:
            node = nodes.get(edge["fromEntity"], {})
            edges.append(Edge(from_id=edge["fromEntity"], from_type=node.get("type", "table"),
                              from_fqn=node.get("fullyQualifiedName", ""), details=edge.get("lineageDetails")))
        return edges

    def add_edge(self, source: Ref, model_id: str, details: dict[str, Any]) -> None:
        from metadata.generated.schema.api.lineage.addLineage import AddLineageRequest

        request = AddLineageRequest.model_validate({"edge": {
            "fromEntity": {"id": source.id, "type": source.type}, "toEntity": {"id": model_id, "type": "mlmodel"},
            "lineageDetails": details}})
        self._request("put", "/lineage", data=request.model_dump_json(exclude_none=True))

    def delete_edge(self, from_type: str, from_id: str, model_id: str) -> None:
        try:
            self._request("delete", f"/lineage/{from_type}/{from_id}/mlmodel/{model_id}")
        except CatalogError as error:
            if error.status != 404:  # already gone (a retried delete, or someone else): fine
                raise
