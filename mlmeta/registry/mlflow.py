"""The MLflow Model Registry, as mlmeta needs it: which version is in Production, and what the
registry and its run know about that version.

Production is the version carrying the alias (default ``champion``), else the version in the
stage (default ``Production``), both read from the registered model (its ``aliases`` and
``latest_versions``, never the deprecated ``get_latest_versions``), for many models at once with
a paged ``registered-models/search``. The signature comes from the version's ``MLmodel`` file
alone: the model itself is never downloaded.

The reads go to the tracking server's REST API (``/api/2.0/mlflow/...``, the same calls
``MlflowClient`` makes) through ``mlmeta.http``, which owns retries and what a failure means:
importing ``mlflow`` costs about 2 s, more than a whole unchanged publish. ``mlflow`` (skinny) is
imported only to download an ``MLmodel`` file from an artifact store the tracking server does
not proxy (``s3://``, ``gs://``, a local path ...). MLflow's own client settings are honoured:
``MLFLOW_TRACKING_TOKEN`` or ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``, ``MLFLOW_TRACKING_INSECURE_TLS``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from mlmeta import secrets
from mlmeta.errors import ConfigError
from mlmeta.http import Answer, HttpClient, HttpFailure, Limits
from mlmeta.registry.types import (LoggedDataset, ProductionVersion, Promotion, RegistryError, SignatureInput, Wanted,
                             estimator_of)

log = logging.getLogger("mlmeta.mlflow")
API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
BATCH = 100  # names in one IN (...) filter
PAGE = 1000


# What may stand between the single quotes of a filter value, read alike by every MLflow server's
# parser (sqlparse's tokens, then ``ast.literal_eval`` of an IN list): no quote of either kind, no
# backslash (an escape in one reader, a character in the other), nothing unprintable.
_PLAIN = re.compile(r"[^'\"\\\x00-\x1f\x7f-\x9f]+")


def filter_literal(value: str) -> str | None:
    """``value`` quoted for MLflow's search filter grammar, or None when no quoting is read alike by
    every server (the caller then reads that item alone, by a route that takes it as a parameter)."""
    return f"'{value}'" if _PLAIN.fullmatch(value) and value.isprintable() else None


def _client_options() -> tuple[dict[str, str], tuple[str, str] | None, bool | str]:
    """Headers, basic auth and TLS verification from MLflow's own environment variables."""
    headers: dict[str, str] = {"Accept": "application/json"}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    auth = None
    if token:
        secrets.register(token)
        headers["Authorization"] = f"Bearer {token}"
    elif os.environ.get("MLFLOW_TRACKING_USERNAME") and os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        secrets.register_basic_auth(os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
        auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
    verify: bool | str = True
    if os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    elif os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true", "yes"):
        verify = False
    return headers, auth, verify


class MlflowRegistry:
    """One tracking server (and its registry, when MLFLOW_REGISTRY_URI names another); thread-safe."""

    name = "mlflow"

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, *, limits: Limits | None = None,
                 tracking_setting: str = "MLFLOW_TRACKING_URI") -> None:
        headers, auth, verify = _client_options()
        self.tracking_uri = tracking_uri.rstrip("/")
        self.registry_uri = (registry_uri or tracking_uri).rstrip("/")
        self._tracking = HttpClient(self.tracking_uri, server="MLflow", setting=tracking_setting, limits=limits,
                                    headers=headers, verify=verify, auth=auth)
        self._registry = self._tracking if self.registry_uri == self.tracking_uri else HttpClient(
            self.registry_uri, server="MLflow", setting="MLFLOW_REGISTRY_URI", limits=limits, headers=headers,
            verify=verify, auth=auth)
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, Any]] = {}  # prefetched registered models by name
        self._absent: set[str] = set()
        self._versions: dict[tuple[str, str], dict[str, Any]] = {}  # prefetched model versions
        self._runs: dict[str, dict[str, Any]] = {}  # prefetched runs by id
        self._locations: dict[str, str] = {}  # prefetched logged-model artifact locations by model id
        self._logged_models: dict[str, dict[str, Any]] = {}  # MLflow 3 logged models by id
        self._mlmodels: dict[str, dict[str, Any]] = {}  # MLmodel files read in this run, by location
        self._handshake()

    @classmethod
    def from_settings(cls, settings: Any) -> MlflowRegistry:
        return cls(settings.require_tracking_uri(), settings.registry_uri(), limits=settings.limits(),
                   tracking_setting=settings.where("mlflow_tracking_uri"))

    @property
    def requests(self) -> int:
        return self._tracking.requests + (self._registry.requests if self._registry is not self._tracking else 0)

    # --- the wire ------------------------------------------------------------------------------

    def _handshake(self) -> None:
        """Is an MLflow tracking server there? One cheap registry search says so (or says what is)."""
        self._call(self._registry, "GET", "/registered-models/search", params={"max_results": "1"})

    def _call(self, client: HttpClient, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One REST call: its JSON object, or RegistryError (``code`` = MLflow's error code)."""
        try:
            answer = client.request(method, API + path, params=params, json_body=body)
        except HttpFailure as failure:
            raise RegistryError(f"MLflow at {client.base_url}: {failure}", transient=True) from None
        data = answer.json()
        if answer.ok and isinstance(data, dict):
            return data
        if answer.status in (401, 403):
            raise ConfigError("MLFLOW_TRACKING_TOKEN", f"MLflow at {client.base_url} refused the request "
                                                       f"(HTTP {answer.status}: {answer.message()})",
                              hint="set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD")
        if isinstance(data, dict) and data.get("error_code"):
            raise RegistryError(str(data.get("message") or data["error_code"]), error_code=str(data["error_code"]))
        raise self._not_mlflow(client, method, path, answer)

    @staticmethod
    def _not_mlflow(client: HttpClient, method: str, path: str, answer: Answer) -> ConfigError:
        what = "an HTML page" if answer.looks_like_html() else f"HTTP {answer.status}" + (
            "" if answer.json() is not None or not answer.text else " (not JSON)")
        return ConfigError(client.setting, f"this is not an MLflow tracking server: {method} {client.base_url}{API}"
                                           f"{path} answered {what}",
                           hint="point it at the MLflow server's base URL, e.g. http://mlflow.example.com:5000")

    def _pages(self, client: HttpClient, method: str, path: str, key: str, query: dict[str, Any]) -> list[dict]:
        """Every item of a paged search (GET takes the query as parameters, POST as a JSON body)."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page_query = {**query, "max_results": PAGE, **({"page_token": token} if token else {})}
            if method == "GET":
                data = self._call(client, "GET", path, params={k: str(v) for k, v in page_query.items()})
            else:
                data = self._call(client, "POST", path, body=page_query)
            items += data.get(key) or []
            token = data.get("next_page_token")
            if not token:
                return items

    def server_version(self) -> str | None:
        """The tracking server's MLflow version (its ``/version`` route), or None when it does not say."""
        try:
            answer = self._tracking.request("GET", "/version")
        except HttpFailure as failure:
            raise RegistryError(f"MLflow at {self.tracking_uri}: {failure}", transient=True) from None
        text = answer.text.strip()
        return text if answer.ok and text and len(text) < 40 and "<" not in text else None

    def server_summary(self) -> str:
        return f"MLflow {self.server_version() or '(version not said)'}"

    # --- look-ups -----------------------------------------------------------------------------

    def prefetch(self, names: list[str]) -> None:
        """Read the aliases and stages of many registered models in a few calls (batches of 100),
        so that finding each spec's Production version costs no request of its own. A name that
        cannot be quoted safely in a filter is left out: ``registered_model`` reads it alone."""
        wanted = sorted({n for n in names if filter_literal(n)})
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            found = self._search_in(self._registry, "GET", "/registered-models/search", "registered_models", "name",
                                    batch, {})
            if found is None:
                continue  # the server would not take the filter: each model is read alone when asked for
            with self._lock:
                for model in found:
                    self._known[model["name"]] = model
                self._absent.update(set(batch) - {m["name"] for m in found})

    def _search_in(self, client: HttpClient, method: str, path: str, key: str, field: str, values: list[str],
                   query: dict[str, Any]) -> list[dict] | None:
        """A paged search for ``field IN (values)``; None when the server refuses the filter as
        invalid (a name its parser reads differently): the caller reads the items one by one."""
        quoted = ", ".join(filter_literal(value) or "" for value in values)
        try:
            return self._pages(client, method, path, key, {**query, "filter": f"{field} IN ({quoted})"})
        except RegistryError as error:
            if error.error_code != "INVALID_PARAMETER_VALUE":
                raise
            log.warning("MLflow refused a search for %d %s(s); reading them one by one: %s", len(values), field,
                        error)
            return None

    def known_models(self) -> list[dict[str, Any]]:
        """The registered models read by ``prefetch`` (those that exist)."""
        with self._lock:
            return list(self._known.values())

    @property
    def public_uri(self) -> str:
        """Where the registry is, fit to print and to put in an event (no credentials)."""
        return _safe_uri(self.registry_uri)

    def all_registered_models(self) -> list[dict[str, Any]]:
        """Every registered model with its aliases and latest versions per stage (paged)."""
        return self._pages(self._registry, "GET", "/registered-models/search", "registered_models", {})

    def prefetch_versions(self, promotions: list[Promotion]) -> None:
        """Read the model versions of many promotions in a few paged searches (``model_version``
        then answers from them). A search answers no aliases, so a version is kept only where the
        registered model read earlier (``prefetch``) says which aliases it has; the others are
        read one by one when asked for."""
        with self._lock:
            known = dict(self._known)
        names = sorted({p.registered_model for p in promotions
                        if filter_literal(p.registered_model) and p.registered_model in known})
        wanted = {(p.registered_model, p.version) for p in promotions}
        for start in range(0, len(names), BATCH):
            found = self._search_in(self._registry, "GET", "/model-versions/search", "model_versions", "name",
                                    names[start:start + BATCH], {})
            for version in found or []:
                key = (version["name"], str(version["version"]))
                if key in wanted:
                    aliases = known[key[0]].get("aliases") or []
                    version.setdefault("aliases", [a["alias"] for a in aliases if str(a.get("version")) == key[1]])
                    self._versions[key] = version

    def prefetch_facts(self, promotions: list[Promotion]) -> None:
        """Read the versions, logged models and runs of many promotions in a few calls, so that
        ``facts`` is left with one read of its own (the MLmodel file) instead of four. A run's
        answer carries its logged datasets (``inputs.dataset_inputs``): they cost nothing more."""
        if not promotions:
            return
        self.prefetch_versions(promotions)
        model_ids = sorted({i for i in map(_logged_model_id, self._versions.values()) if i and filter_literal(i)})
        run_ids = {v["run_id"] for v in self._versions.values() if v.get("run_id") and filter_literal(v["run_id"])}
        if not run_ids and not model_ids:
            return
        experiments = [e["experiment_id"] for e in self._pages(self._tracking, "POST", "/experiments/search",
                                                               "experiments", {"view_type": "ALL"})]
        # MLflow 3 versions point at a logged model (models:/m-...): its location is the download URI,
        # and the run that logged it holds its training datasets
        for start in range(0, len(model_ids), BATCH):
            for model in self._search_in(self._tracking, "POST", "/logged-models/search", "models", "model_id",
                                         model_ids[start:start + BATCH], {"experiment_ids": experiments}) or []:
                self._remember_logged_model(model)
        run_ids |= {m["info"]["source_run_id"] for m in self._logged_models.values()
                    if filter_literal((m.get("info") or {}).get("source_run_id") or "")}
        wanted = sorted(run_ids)
        for start in range(0, len(wanted), BATCH):
            for run in self._search_in(self._tracking, "POST", "/runs/search", "runs", "attributes.run_id",
                                       wanted[start:start + BATCH],
                                       {"experiment_ids": experiments, "run_view_type": "ALL"}) or []:
                self._runs[run["info"]["run_id"]] = run

    def _remember_logged_model(self, model: dict[str, Any]) -> None:
        info = model.get("info") or {}
        if info.get("model_id"):
            with self._lock:
                self._logged_models[info["model_id"]] = model
                if info.get("artifact_uri"):
                    self._locations[info["model_id"]] = info["artifact_uri"]

    def _logged_model(self, model_id: str | None) -> dict[str, Any] | None:
        """A logged model (MLflow 3), prefetched or read now; None where the server has no such API."""
        if not model_id:
            return None
        with self._lock:
            known = self._logged_models.get(model_id)
        if known is not None:
            return known
        try:
            model = self._call(self._tracking, "GET", f"/logged-models/{quote(model_id, safe='')}").get("model")
        except RegistryError as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND"):
                return None
            raise
        except ConfigError:  # an MLflow 2 server answers an unknown route with a 404 page
            return None
        if isinstance(model, dict):
            self._remember_logged_model(model)
            return model
        return None

    def registered_model_exists(self, name: str) -> bool:
        try:
            self.registered_model(name)
        except RegistryError as error:
            if error.code == "R004":
                return False
            raise
        return True

    def promotion(self, wanted: Wanted) -> Promotion | None:
        """Which version is in Production: the alias's version, else the one in the stage."""
        return promotion_of(self.registered_model(wanted.registered_model), wanted.alias, wanted.stage)

    def aliases(self, name: str) -> dict[str, str]:
        """Every alias a version of the registered model carries: alias -> version."""
        return {a["alias"]: str(a["version"]) for a in self.registered_model(name).get("aliases") or []}

    def promotion_in(self, model: dict[str, Any], wanted: Wanted) -> Promotion | None:
        """The same, from a registered model already read (``known_models``)."""
        return promotion_of(model, wanted.alias, wanted.stage)

    def latest(self, name: str) -> Promotion | None:
        """The highest version of a registered model, promoted or not (for ``mlmeta init``)."""
        model = self.registered_model(name)
        versions = self._search_in(self._registry, "GET", "/model-versions/search", "model_versions", "name",
                                   [name], {}) if filter_literal(name) else None
        if versions is None:  # a name no filter can hold: the newest of the latest version per stage
            versions = model.get("latest_versions") or []
        if not versions:
            return None
        newest = max(versions, key=lambda v: int(v["version"]))
        return Promotion(name, str(newest["version"]), "latest", "latest")

    def production_version(self, wanted: Wanted) -> ProductionVersion | None:
        promotion = self.promotion(wanted)
        return self.facts(promotion) if promotion else None

    @staticmethod
    def version_in_url(url: str | None, name: str) -> str | None:
        """The version a published entity's ``sourceUrl`` (the version's page in the MLflow UI) names."""
        match = re.search(r"/versions/(\d+)$", url or "")
        return match.group(1) if match else None

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """A model version as the registry has it (stage, aliases, run, status, tags ...)."""
        cached = self._versions.get((name, version))
        if cached is not None:
            return cached
        try:
            return self._call(self._registry, "GET", "/model-versions/get",
                              params={"name": name, "version": version})["model_version"]
        except RegistryError as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise RegistryError(f"version {version} of registered model {name!r} not found in MLflow "
                                    f"at {_safe_uri(self.registry_uri)}") from None
            raise

    def facts(self, promotion: Promotion) -> ProductionVersion:
        """Everything the registry knows about a promoted version."""
        version = self.model_version(promotion.registered_model, promotion.version)
        run = self._runs.get(version.get("run_id") or "") or self._run(version.get("run_id"))
        logged_model = self._logged_model(_logged_model_id(version))
        artifact_uri = self._locations.get(_logged_model_id(version) or "") or self._download_uri(version)
        mlmodel = self._mlmodel(artifact_uri) if artifact_uri else {}
        info, data = (run or {}).get("info") or {}, (run or {}).get("data") or {}
        tags = _pairs(data.get("tags"))
        return ProductionVersion(
            registered_model=version["name"], version=str(version["version"]), recognised_by=promotion.recognised_by,
            marker=promotion.marker, created_at=_int(version.get("creation_timestamp")), run_id=version.get("run_id"),
            run_name=info.get("run_name") or tags.get("mlflow.runName"),
            run_user=info.get("user_id") or version.get("user_id") or None,
            run_started_at=_int(info.get("start_time")), experiment_id=info.get("experiment_id"),
            params=_pairs(data.get("params")), metrics={k: float(v) for k, v in _pairs(data.get("metrics")).items()},
            signature=signature_of(mlmodel), flavors=tuple((mlmodel.get("flavors") or {}).keys()),
            estimator=estimator_of(tags, _pairs(data.get("params"))), artifact_uri=artifact_uri,
            version_url=self._ui_url(f"#/models/{quote(version['name'], safe='')}/versions/{version['version']}"),
            run_url=(self._ui_url(f"#/experiments/{info['experiment_id']}/runs/{version['run_id']}")
                     if info.get("experiment_id") and version.get("run_id") else None),
            logged_model_id=_logged_model_id(version),
            datasets=self._datasets(run, logged_model),
        )

    def _datasets(self, run: dict[str, Any] | None, logged_model: dict[str, Any] | None) -> tuple[LoggedDataset, ...]:
        """The version's run's logged datasets; for an MLflow 3 logged model also its source run's
        (when another run logged it) and the datasets its metrics were computed on."""
        found = list(datasets_of_run(run))
        info = (logged_model or {}).get("info") or {}
        source_run = info.get("source_run_id")
        if source_run and source_run != ((run or {}).get("info") or {}).get("run_id"):
            found += datasets_of_run(self._runs.get(source_run) or self._run(source_run))
        known = {(d.name, d.digest) for d in found}
        for metric in ((logged_model or {}).get("data") or {}).get("metrics") or []:
            key = (metric.get("dataset_name"), metric.get("dataset_digest"))
            if key[0] and key not in known:
                known.add(key)
                # MLflow names the dataset a metric was computed on, not where it came from
                found.append(LoggedDataset(key[0], key[1] or "", "", "", context="evaluation", origin="logged model"))
        return tuple(found)

    def registered_model(self, name: str) -> dict[str, Any]:
        with self._lock:
            known, absent = self._known.get(name), name in self._absent
        if known is not None:
            return known
        if not absent:
            try:
                return self._call(self._registry, "GET", "/registered-models/get",
                                  params={"name": name})["registered_model"]
            except RegistryError as error:
                if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
        raise RegistryError(f"registered model {name!r} not found in MLflow at {_safe_uri(self.registry_uri)}")

    def _run(self, run_id: str | None) -> dict[str, Any] | None:
        if not run_id:
            return None
        try:
            return self._call(self._tracking, "GET", "/runs/get", params={"run_id": run_id})["run"]
        except RegistryError as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None  # a version may outlive its run
            raise

    def _download_uri(self, version: dict[str, Any]) -> str | None:
        data = self._call(self._registry, "GET", "/model-versions/get-download-uri",
                          params={"name": version["name"], "version": str(version["version"])})
        return data.get("artifact_uri")

    # --- the MLmodel file ---------------------------------------------------------------------

    def _mlmodel(self, artifact_uri: str) -> dict[str, Any]:
        """Only the MLmodel file: flavors and signature, without the model's weights (read once per
        location and run: versions registered from one logged model share it)."""
        location = artifact_uri.rstrip("/") + "/MLmodel"
        with self._lock:
            if location in self._mlmodels:
                return self._mlmodels[location]
        mlmodel = self._read_mlmodel(location)
        with self._lock:
            return self._mlmodels.setdefault(location, mlmodel)

    def _read_mlmodel(self, location: str) -> dict[str, Any]:
        proxied = self._proxied_artifact_url(location)
        if proxied is not None:
            try:
                answer = self._tracking.request("GET", proxied)
            except HttpFailure as failure:
                raise RegistryError(f"MLflow at {self.tracking_uri}: {failure}", transient=True) from None
            if answer.status == 404:
                return {}  # a registered model that is not an MLflow model
            if not answer.ok:
                raise RegistryError(f"MLflow could not serve {location}: {answer.message()}")
            return _yaml_mapping(answer.text)
        return self._mlmodel_from_store(location)

    def _proxied_artifact_url(self, location: str) -> str | None:
        """The tracking server's artifact proxy URL for an ``mlflow-artifacts:`` location."""
        parts = urlsplit(location)
        if parts.scheme != "mlflow-artifacts":
            return None
        path = quote(parts.path.lstrip("/"))
        if parts.netloc:
            scheme = urlsplit(self.tracking_uri).scheme
            return f"{scheme}://{parts.netloc}{ARTIFACTS_API}/{path}"
        return f"{self.tracking_uri}{ARTIFACTS_API}/{path}"

    def _mlmodel_from_store(self, location: str) -> dict[str, Any]:
        """Download through mlflow's artifact repositories (S3, GCS, Azure, local paths ...)."""
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # mlflow's log lines are not ours to print
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        import mlflow.artifacts

        with tempfile.TemporaryDirectory(prefix="mlmeta-") as folder:
            try:
                path = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=folder,
                                                           tracking_uri=self.tracking_uri)
            except Exception as error:  # noqa: BLE001 - each store raises its own errors
                text = str(error).splitlines()[0] if str(error) else type(error).__name__
                if "not found" in text.lower() or "no such file" in text.lower() or "does not exist" in text.lower():
                    return {}
                raise RegistryError(f"cannot read {location}: {text}") from None
            return _yaml_mapping(Path(path).read_text(encoding="utf-8"))

    def _ui_url(self, fragment: str) -> str | None:
        parts = urlsplit(self.tracking_uri)
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}/{fragment}"


def promotion_of(model: dict[str, Any], alias: str | None, stage: str | None) -> Promotion | None:
    """Which version of a registered model (REST JSON) is in Production, and what says so."""
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases") or []}
    if alias and alias in aliases:
        return Promotion(model["name"], aliases[alias], "alias", alias)
    if stage:
        for version in model.get("latest_versions") or []:
            if version.get("current_stage") == stage:
                return Promotion(model["name"], str(version["version"]), "stage", stage)
    return None


def datasets_of_run(run: dict[str, Any] | None) -> list[LoggedDataset]:
    """A run's ``inputs.dataset_inputs`` (REST JSON) as LoggedDatasets, in the order logged."""
    found = []
    for item in (((run or {}).get("inputs") or {}).get("dataset_inputs")) or []:
        dataset = item.get("dataset") or {}
        if not isinstance(dataset, dict) or not dataset.get("name"):
            continue
        tags = _pairs(item.get("tags"))
        found.append(LoggedDataset(name=str(dataset["name"]), digest=str(dataset.get("digest") or ""),
                                   source_type=str(dataset.get("source_type") or ""),
                                   source=str(dataset.get("source") or ""), context=tags.get("mlflow.data.context"),
                                   columns=schema_columns(dataset.get("schema"))))
    return found


def schema_columns(schema: Any) -> tuple[str, ...]:
    """Column names from a dataset's schema (MLflow's ``{"mlflow_colspec": [{"name": ...}]}``), if any."""
    import json

    try:
        data = json.loads(schema) if isinstance(schema, str) and schema else None
    except ValueError:
        return ()
    columns = data.get("mlflow_colspec") if isinstance(data, dict) else None
    return tuple(str(c["name"]) for c in columns or [] if isinstance(c, dict) and c.get("name"))


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    """MLflow's ``[{key, value}]`` lists (params, metrics, tags) as a mapping."""
    return {item["key"]: item.get("value") for item in items or [] if "key" in item}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _logged_model_id(version: dict[str, Any]) -> str | None:
    if version.get("model_id"):
        return version["model_id"]
    source = version.get("source") or ""
    return source[len("models:/"):] if source.startswith("models:/m-") else None


def signature_of(mlmodel: dict[str, Any]) -> tuple[SignatureInput, ...] | None:
    import json

    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        columns = json.loads(inputs)
    except ValueError:
        return None
    return tuple(SignatureInput(str(c.get("name")), str(c.get("type"))) for c in columns
                 if isinstance(c, dict) and c.get("name"))


def _safe_uri(uri: str) -> str:
    """A URI without credentials (http://user:pass@host -> http://host)."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=host).geturl()
    return uri
