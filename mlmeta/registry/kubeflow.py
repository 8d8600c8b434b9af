"""Kubeflow Model Registry (KF MR), as mlmeta needs it: which version is in Production, and what the
registry - and the MLflow run its ``model-registry-mlflow`` plugin stored there - knows about it.

KF MR has no aliases and no stages. What counts as Production is the spec's ``kubeflow.production``
rule (``mlmeta.registry.kubeflow_rules``). A version's training run is found through its model
artifact: the training script registers the version with the URI ``log_model`` returned
(``models:/<artifact id>``), and the plugin recorded on that logged model the run it came from
(its ``mlflow__source_run_id`` custom property; the server also links it, ``experimentRunId``). The
run's artifacts hold its parameters, metrics and logged datasets, as the plugin wrote them.

The reads go to KF MR's REST API through ``mlmeta.http``, which owns retries and what a failure
means. The official client (``model-registry``) is not used at run time: importing it costs about
1.2 s (its package imports aiohttp and its whole generated API), more than an unchanged publish,
and it is asynchronous. The tests hold the stand-in's answers to that client's generated models
(``mr_openapi``), so the shapes read here are the client's. Registered models, versions and
artifacts are read under ``/api/model_registry/v1`` (``v1alpha3`` on servers older than v1); runs
under ``v1alpha3``, the only prefix the MLflow plugin speaks, so any server it logged into has it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml

from mlmeta import secrets
from mlmeta.errors import ConfigError
from mlmeta.http import Answer, HttpClient, HttpFailure, Limits
from mlmeta.registry.kubeflow_rules import Rule, RuleError, production_of
from mlmeta.registry.types import (LoggedDataset, ProductionVersion, Promotion, RegistryError, SignatureInput, Wanted,
                             estimator_of)

API_V1 = "/api/model_registry/v1"
API_V1ALPHA3 = "/api/model_registry/v1alpha3"  # what the MLflow plugin speaks (its runs live here)
PAGE = 1000
# the name of the variable, not a token (B105)
TOKEN_SETTING = "MODEL_REGISTRY_TOKEN"  # nosec B105


class KubeflowRegistry:
    """One Kubeflow Model Registry server; thread-safe. Same questions as ``MlflowRegistry``."""

    name = "kubeflow"

    def __init__(self, url: str, *, token: str | None = None, limits: Limits | None = None,
                 setting: str = "MODEL_REGISTRY_URL", ui_url: str | None = None, verify: bool | str = True) -> None:
        headers = {"Accept": "application/json"}
        if token:
            secrets.register(token)
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self.ui_url = ui_url.rstrip("/") if ui_url else None
        self.with_token = bool(token)
        self._client = HttpClient(self.url, server="Kubeflow Model Registry", setting=setting, limits=limits,
                                  headers=headers, verify=verify)
        self._lock = threading.Lock()
        self._models: dict[str, dict[str, Any]] = {}  # registered models by name
        self._absent: set[str] = set()
        self._versions: dict[str, list[dict[str, Any]]] = {}  # registered model id -> its versions
        self._runs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}  # run id -> (run, artifacts)
        self._logged_models: dict[str, dict[str, Any] | None] = {}  # artifact id -> the logged model (None: gone)
        self._model_artifacts: dict[str, dict[str, Any] | None] = {}  # version id -> its model artifact
        self.api = self._handshake()

    @classmethod
    def from_settings(cls, settings: Any) -> KubeflowRegistry:
        return cls(settings.require_kubeflow_url(), token=settings.kubeflow_token, limits=settings.limits(),
                   setting=settings.where("kubeflow_url"), ui_url=settings.kubeflow_ui_url, verify=ca_bundle())

    @property
    def requests(self) -> int:
        return self._client.requests

    @property
    def public_uri(self) -> str:
        parts = urlsplit(self.url)
        return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()

    # --- the wire ------------------------------------------------------------------------------

    def _handshake(self) -> str:
        """Is a Kubeflow Model Registry there, and which API version does it serve? A one-item list
        of registered models says so (servers before v1 answer v1alpha3 only)."""
        for api in (API_V1, API_V1ALPHA3):
            answer = self._send("GET", api + "/registered_models", {"pageSize": "1"})
            if answer.ok and _is_list(answer.json()):
                return api
            if answer.status != 404:
                break
        raise self._not_kubeflow("GET", API_V1 + "/registered_models", answer)

    def _send(self, method: str, path: str, params: dict[str, str] | None = None) -> Answer:
        try:
            answer = self._client.request(method, path, params=params)
        except HttpFailure as failure:
            raise RegistryError(f"Kubeflow Model Registry at {self.public_uri}: {failure}", transient=True) from None
        if answer.status in (401, 403):
            raise ConfigError(TOKEN_SETTING, f"Kubeflow Model Registry at {self.public_uri} refused the request "
                                             f"(HTTP {answer.status}: {answer.message()})",
                              hint="set MODEL_REGISTRY_TOKEN (or kubeflow_token_file) to a token it accepts")
        return answer

    def _get(self, path: str, params: dict[str, str] | None = None, *, api: str | None = None) -> dict[str, Any]:
        """One GET: its JSON object; RegistryError(error_code="not found") for a KF MR 404."""
        full = (api or self.api) + path
        answer = self._send("GET", full, params)
        data = answer.json()
        if answer.ok and isinstance(data, dict):
            return data
        if _is_error(data):
            found_nothing = answer.status == 404
            raise RegistryError(f"Kubeflow Model Registry: {data['message']}", code="R004" if found_nothing else "P001",
                                error_code="not found" if found_nothing else str(data["code"]))
        raise self._not_kubeflow("GET", full, answer)

    def _not_kubeflow(self, method: str, path: str, answer: Answer) -> ConfigError:
        what = "an HTML page" if answer.looks_like_html() else f"HTTP {answer.status}" + (
            "" if answer.json() is not None or not answer.text else " (not JSON)")
        return ConfigError(self._client.setting, f"this is not a Kubeflow Model Registry: {method} {self.public_uri}"
                                                 f"{path} answered {what}",
                           hint="point it at the registry's REST service, e.g. https://model-registry.example.com:8443")

    def _pages(self, path: str, params: dict[str, str] | None = None, *, api: str | None = None) -> list[dict]:
        """Every item of a list, following ``nextPageToken`` ("" on the last page)."""
        items: list[dict[str, Any]] = []
        # no token yet: read below (B105)
        token = ""  # nosec B105
        while True:
            data = self._get(path, {**(params or {}), "pageSize": str(PAGE),
                                    **({"nextPageToken": token} if token else {})}, api=api)
            if not _is_list(data):
                raise self._not_kubeflow("GET", (api or self.api) + path, Answer(200, {}, json.dumps(data)))
            items += data["items"] or []
            following = data.get("nextPageToken") or ""
            if not following or following == token:
                return items
            token = following

    def server_version(self) -> str | None:
        """KF MR does not say its version; the API version it serves stands in for it."""
        return self.api.rsplit("/", 1)[-1]

    def server_summary(self) -> str:
        return f"API {self.server_version()}, {'with a token' if self.with_token else 'without a token'}"

    # --- registered models and their versions ---------------------------------------------------

    def prefetch(self, names: list[str]) -> None:
        """Read the registered models (one paged list) and the versions of those named."""
        wanted = set(names)
        if not wanted:
            return
        listed = {m["name"]: m for m in self._pages("/registered_models") if m.get("name") in wanted}
        with self._lock:
            self._models.update(listed)
            self._absent.update(wanted - set(listed))
        self._prefetch_versions(list(listed.values()))

    def all_registered_models(self) -> list[dict[str, Any]]:
        models = self._pages("/registered_models")
        with self._lock:
            self._models.update({m["name"]: m for m in models})
        self._prefetch_versions(models)
        return models

    def _prefetch_versions(self, models: list[dict[str, Any]]) -> None:
        """The versions of these models: one model's own list, or for several one paged list of every
        version (1,000 a page), so a run over many models costs a few requests, not one per model."""
        if len(models) == 1:
            self._model_versions(models[0])
            return
        if not models:
            return
        found: dict[str, list[dict[str, Any]]] = {str(m["id"]): [] for m in models}
        for version in self._pages("/model_versions"):
            found.get(str(version.get("registeredModelId")), []).append(version)
        with self._lock:
            self._versions.update(found)

    def known_models(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._models.values())

    def registered_model(self, name: str) -> dict[str, Any]:
        with self._lock:
            if name in self._models:
                return self._models[name]
            absent = name in self._absent
        if not absent:
            try:
                model = self._get("/registered_model", {"name": name})
            except RegistryError as error:
                if error.error_code != "not found":
                    raise
            else:
                if model.get("name") != name:  # the server matches names with SQL LIKE: _ and % are wildcards,
                    # so another model may answer first: only the whole list tells whether this one exists
                    model = next((m for m in self._pages("/registered_models") if m.get("name") == name), {})
                if model.get("name") == name:
                    with self._lock:
                        self._models[name] = model
                    return model
        raise RegistryError(f"registered model {name!r} not found in Kubeflow Model Registry at {self.public_uri}")

    def registered_model_exists(self, name: str) -> bool:
        try:
            self.registered_model(name)
        except RegistryError as error:
            if error.code == "R004" and not error.transient:
                return False
            raise
        return True

    def _model_versions(self, model: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            known = self._versions.get(model["id"])
        if known is not None:
            return known
        versions = self._pages(f"/registered_models/{quote(str(model['id']))}/versions")
        with self._lock:
            self._versions[model["id"]] = versions
        return versions

    def promotion(self, wanted: Wanted) -> Promotion | None:
        """The version the spec's rule says is in Production, or None; RegistryError (R013, at the
        rule) when the rule cannot tell - two versions match, or a property is not a string."""
        return self.promotion_in(self.registered_model(wanted.registered_model), wanted)

    def aliases(self, name: str) -> dict[str, str]:
        """Kubeflow Model Registry has no aliases (a rule marks Production): none to check a spec's against."""
        return {}

    def promotion_in(self, model: dict[str, Any], wanted: Wanted) -> Promotion | None:
        """The same, from a registered model already read (``known_models``)."""
        rule: Rule | None = wanted.rule
        if rule is None:
            raise RegistryError("no Production rule: say in kubeflow.production what marks the Production version",
                                code="S002", loc=("kubeflow",))
        try:
            version = production_of(model, self._model_versions(model), rule)
        except RuleError as error:
            raise RegistryError(str(error), code="R013", loc=("kubeflow", "production", rule.key())) from None
        if version is None:
            return None
        return Promotion(model["name"], str(version["name"]), rule.recognised_by(), rule.marker())

    def production_version(self, wanted: Wanted) -> ProductionVersion | None:
        promotion = self.promotion(wanted)
        return self.facts(promotion) if promotion else None

    def latest(self, name: str) -> Promotion | None:
        """The newest version, promoted or not (for ``mlmeta init``)."""
        versions = self._model_versions(self.registered_model(name))
        if not versions:
            return None
        newest = max(versions, key=_created)
        return Promotion(name, str(newest["name"]), "latest", "latest")

    def prefetch_versions(self, promotions: list[Promotion]) -> None:
        """Nothing to do: ``prefetch`` already read every version of the models involved."""

    def prefetch_facts(self, promotions: list[Promotion]) -> None:
        """Nothing to batch: KF MR lists no runs by id; ``facts`` reads each version's own."""

    def _version(self, name: str, version_name: str) -> dict[str, Any]:
        model = self.registered_model(name)
        for version in self._model_versions(model):
            if str(version.get("name")) == version_name:
                return version
        raise RegistryError(f"version {version_name!r} of registered model {name!r} not found in Kubeflow Model "
                            f"Registry at {self.public_uri}")

    def version_in_url(self, url: str | None, name: str) -> str | None:
        """The version a published entity's ``sourceUrl`` names: it ends in the version's id (the UI's
        route, or the REST resource), mapped back to the version's name."""
        match = re.search(r"versions/(\d+)$", url or "")
        if not match:
            return None
        versions = self._model_versions(self.registered_model(name))
        return next((str(v["name"]) for v in versions if str(v.get("id")) == match.group(1)), None)

    def model_version(self, name: str, version_name: str) -> dict[str, Any]:
        """The version as an event carries it: the fields of MLflow's model-version record that KF MR
        has (so consumers read one shape), with KF MR's own ids and custom properties."""
        version = self._version(name, version_name)
        artifact = self._model_artifact(version)
        properties = _properties(version.get("customProperties"))
        return {"name": name, "version": version_name, "creation_timestamp": _int(version.get("createTimeSinceEpoch")),
                "last_updated_timestamp": _int(version.get("lastUpdateTimeSinceEpoch")),
                "user_id": version.get("author") or "", "description": version.get("description") or "",
                "source": (artifact or {}).get("uri") or "", "run_id": self._run_id(artifact) or "",
                "status": version.get("state") or "", "tags": [{"key": k, "value": v} for k, v in properties.items()],
                "run_link": "", "aliases": [], "current_stage": "None",
                "kubeflow": {"registeredModelId": version.get("registeredModelId"), "modelVersionId": version.get("id"),
                             "state": version.get("state")}}

    # --- the facts of a version ---------------------------------------------------------------

    def facts(self, promotion: Promotion) -> ProductionVersion:
        version = self._version(promotion.registered_model, promotion.version)
        artifact = self._model_artifact(version)
        logged = self._logged_model(artifact)
        run_id = self._run_id(artifact)
        run, run_artifacts = self._run(run_id) if run_id else ({}, [])
        location = _location(logged) or _location(artifact)
        mlmodel = _local_mlmodel(location)
        tags = _properties(run.get("customProperties"))
        params = {a["name"]: str(a.get("value")) for a in run_artifacts
                  if a.get("artifactType") == "parameter" and a.get("name")}
        model_format = " ".join(filter(None, [(artifact or {}).get("modelFormatName"),
                                              (artifact or {}).get("modelFormatVersion")])) or None
        return ProductionVersion(
            registered_model=promotion.registered_model, version=promotion.version,
            recognised_by=promotion.recognised_by, marker=promotion.marker,
            created_at=_int(version.get("createTimeSinceEpoch")), run_id=run_id,
            run_name=run.get("name") or tags.get("mlflow.runName"),
            run_user=run.get("owner") or tags.get("mlflow.user"),
            run_started_at=_int(run.get("startTimeSinceEpoch") or run.get("createTimeSinceEpoch")),
            experiment_id=run.get("experimentId"),
            params=params,
            metrics={a["name"]: float(a["value"]) for a in run_artifacts
                     if a.get("artifactType") == "metric" and a.get("name") and _is_number(a.get("value"))},
            signature=_signature(mlmodel), flavors=tuple((mlmodel.get("flavors") or {}).keys()),
            estimator=estimator_of(tags, params), artifact_uri=location,
            version_url=self._version_url(version),
            logged_model_id=(logged or {}).get("id"),
            datasets=tuple(_dataset(a) for a in run_artifacts if a.get("artifactType") == "dataset-artifact"
                           and a.get("name")),
            registry="kubeflow", author=version.get("author") or None, model_format=model_format,
            version_description=version.get("description") or None,
            properties=_properties(version.get("customProperties")),
        )

    def _model_artifact(self, version: dict[str, Any]) -> dict[str, Any] | None:
        """The version's model artifact (what ``register_model`` attached), or None."""
        with self._lock:
            if version["id"] in self._model_artifacts:
                return self._model_artifacts[version["id"]]
        items = self._pages(f"/model_versions/{quote(str(version['id']))}/artifacts")
        artifact = next((a for a in items if a.get("artifactType") == "model-artifact"), None)
        with self._lock:
            self._model_artifacts[version["id"]] = artifact
        return artifact

    def _logged_model(self, artifact: dict[str, Any] | None) -> dict[str, Any] | None:
        """The MLflow logged model a ``models:/<artifact id>`` URI names (the plugin stores logged
        models as KF MR artifacts), or None for any other URI."""
        uri = (artifact or {}).get("uri") or ""
        if not uri.startswith("models:/"):
            return None
        artifact_id = unquote(uri[len("models:/"):]).strip("/")
        if not artifact_id.isdigit():
            return None
        with self._lock:
            if artifact_id in self._logged_models:
                return self._logged_models[artifact_id]
        try:
            logged = self._get(f"/artifacts/{artifact_id}")
        except RegistryError as error:
            if error.error_code != "not found":
                raise
            logged = None
        with self._lock:
            self._logged_models[artifact_id] = logged
        return logged

    def _run_id(self, artifact: dict[str, Any] | None) -> str | None:
        """The experiment run that trained the version: recorded on its logged model by the plugin,
        linked by the server, or named on the version's artifact by whoever registered it."""
        for candidate in (self._logged_model(artifact), artifact):
            if not candidate:
                continue
            properties = _properties(candidate.get("customProperties"))
            run_id = properties.get("mlflow__source_run_id") or candidate.get("experimentRunId")
            if run_id and str(run_id).isdigit():
                return str(run_id)
        return None

    def _run(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self._lock:
            known = self._runs.get(run_id)
        if known is not None:
            return known
        try:
            run = self._get(f"/experiment_runs/{run_id}", api=API_V1ALPHA3)
            artifacts = self._pages(f"/experiment_runs/{run_id}/artifacts", api=API_V1ALPHA3)
        except RegistryError as error:
            if error.error_code != "not found":
                raise
            run, artifacts = {}, []  # the run is gone: the version's own facts still stand
        with self._lock:
            self._runs[run_id] = (run, artifacts)
        return run, artifacts

    def _version_url(self, version: dict[str, Any]) -> str:
        """The version's page in the KF MR UI (its route ``registeredModels/<id>/versions/<id>``) when
        the UI's URL is set, else the version's REST resource: either way it ends in the version's id."""
        if self.ui_url:
            return f"{self.ui_url}/registeredModels/{version.get('registeredModelId')}/versions/{version.get('id')}"
        return f"{self.public_uri}{self.api}/model_versions/{version.get('id')}"


def ca_bundle() -> bool | str:
    """TLS verification as the registry's MLflow plugin does it: MODELREGISTRY_CA_CERT_PATH, else the system CAs."""
    return os.environ.get("MODELREGISTRY_CA_CERT_PATH") or True


def _is_list(data: Any) -> bool:
    """A KF MR list answer: items, size, pageSize and nextPageToken (all required by the client's models)."""
    return isinstance(data, dict) and isinstance(data.get("items"), list) and "nextPageToken" in data \
        and "size" in data


def _is_error(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("code"), str) and isinstance(data.get("message"), str)


def _properties(custom: Any) -> dict[str, str]:
    """KF MR custom properties (typed MetadataValues) as text: strings as they are, the rest rendered."""
    found: dict[str, str] = {}
    for name, value in (custom or {}).items():
        if not isinstance(value, dict):
            continue
        kind = str(value.get("metadataType") or "")
        key = {"MetadataStringValue": "string_value", "MetadataIntValue": "int_value",
               "MetadataDoubleValue": "double_value", "MetadataBoolValue": "bool_value"}.get(kind)
        if key is not None and value.get(key) is not None:
            found[name] = str(value[key]).lower() if kind == "MetadataBoolValue" else str(value[key])
    return found


def _dataset(artifact: dict[str, Any]) -> LoggedDataset:
    """A dataset artifact the plugin logged for ``mlflow.log_input``, as MLflow would show it."""
    from mlmeta.registry.mlflow import schema_columns

    properties = _properties(artifact.get("customProperties"))
    return LoggedDataset(name=str(artifact["name"]), digest=str(artifact.get("digest") or ""),
                         source_type=str(artifact.get("sourceType") or ""), source=str(artifact.get("source") or ""),
                         context=properties.get("mlflow.data.context"), columns=schema_columns(artifact.get("schema")))


def _location(artifact: dict[str, Any] | None) -> str | None:
    """Where a model's files are: the plugin's recorded artifact location, else the artifact's URI."""
    if not artifact:
        return None
    location = _properties(artifact.get("customProperties")).get("mlflow__artifact_location") or artifact.get("uri")
    return None if not location or location.startswith("models:/") else str(location)


def _local_mlmodel(location: str | None) -> dict[str, Any]:
    """The MLmodel file, when the model's files are on this machine (file:// or a path); remote
    stores (s3:// ...) are not read: the signature check then has nothing to compare."""
    if not location:
        return {}
    parts = urlsplit(location)
    if parts.scheme not in ("", "file"):
        return {}
    path = Path(unquote(parts.path)) / "MLmodel"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _signature(mlmodel: dict[str, Any]) -> tuple[SignatureInput, ...] | None:
    from mlmeta.registry.mlflow import signature_of

    return signature_of(mlmodel)


def _created(version: dict[str, Any]) -> tuple[int, int]:
    return _int(version.get("createTimeSinceEpoch")) or 0, _int(version.get("id")) or 0


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
