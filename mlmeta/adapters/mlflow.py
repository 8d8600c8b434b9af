"""The only module that imports mlflow (``mlflow-skinny`` suffices): find the version in
Production and read what the registry and its run know about it.

Production is the version carrying the alias (default ``champion``), else the version in the
stage (default ``Production``), both read from the registered model (its ``aliases`` and
``latest_versions``, never the deprecated ``get_latest_versions``), for many models at once with
``search_registered_models``. Registries that only have aliases (``databricks-uc``) skip
the stage look-up. The signature comes from the version's ``MLmodel`` file alone: the model
itself is never downloaded.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from mlmeta.registry import ProductionVersion, Promotion, RegistryError, SignatureInput

log = logging.getLogger("mlmeta.mlflow")
PREFETCH_BATCH = 100
_TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED"}


class MlflowRegistry:
    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        # mlflow's own HTTP retries back off for minutes by default; keep a dead server a short wait
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # our output is ours
        import mlflow
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        # the fluent artifact helpers read the process-wide URIs; keep them pointing at ours
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        self._lock = threading.Lock()
        self._known: dict[str, Any] = {}  # prefetched registered models by name
        self._absent: set[str] = set()
        self._versions: dict[tuple[str, str], Any] = {}  # prefetched model versions
        self._runs: dict[str, Any] = {}  # prefetched runs by id
        self._locations: dict[str, str] = {}  # prefetched logged-model artifact locations by model id

    @property
    def aliases_only(self) -> bool:
        return self.registry_uri.startswith("databricks-uc")

    # --- look-ups -----------------------------------------------------------------------------

    def prefetch(self, names: list[str]) -> None:
        """Read the aliases and stages of many registered models in a few calls (batches of 100),
        so that finding each spec's Production version costs no request of its own."""
        wanted = sorted({n for n in names if "'" not in n})
        for start in range(0, len(wanted), PREFETCH_BATCH):
            batch = wanted[start:start + PREFETCH_BATCH]
            quoted = ", ".join(f"'{name}'" for name in batch)
            try:
                found = self.client.search_registered_models(filter_string=f"name IN ({quoted})",
                                                             max_results=PREFETCH_BATCH)
            except Exception:  # noqa: BLE001 - an optimisation only: per-model look-ups still work
                return
            with self._lock:
                for model in found:
                    self._known[model.name] = model
                self._absent.update(set(batch) - {m.name for m in found})

    def prefetch_facts(self, promotions: list[Promotion]) -> None:
        """Read the versions and runs of many promotions in a few calls, so that ``facts`` is left
        with two reads of its own (download location and MLmodel file) instead of four."""
        names = sorted({p.registered_model for p in promotions if "'" not in p.registered_model})
        wanted = {(p.registered_model, p.version) for p in promotions}
        try:
            for start in range(0, len(names), PREFETCH_BATCH):
                quoted = ", ".join(f"'{n}'" for n in names[start:start + PREFETCH_BATCH])
                for version in self._all(self.client.search_model_versions, f"name IN ({quoted})"):
                    if (version.name, str(version.version)) in wanted:
                        self._versions[(version.name, str(version.version))] = version
            run_ids = sorted({v.run_id for v in self._versions.values() if v.run_id})
            experiments = [e.experiment_id for e in self._all(self.client.search_experiments)]
            for start in range(0, len(run_ids), PREFETCH_BATCH):
                quoted = ", ".join(f"'{r}'" for r in run_ids[start:start + PREFETCH_BATCH])
                for run in self._all(self.client.search_runs, f"attributes.run_id IN ({quoted})",
                                     experiment_ids=experiments):
                    self._runs[run.info.run_id] = run
            # MLflow 3 versions point at a logged model (models:/m-...): its location is the download URI
            model_ids = sorted({_logged_model_id(v) for v in self._versions.values()} - {None})
            for start in range(0, len(model_ids), PREFETCH_BATCH):
                quoted = ", ".join(f"'{m}'" for m in model_ids[start:start + PREFETCH_BATCH])
                for model in self._all(self.client.search_logged_models, f"model_id IN ({quoted})",
                                       experiment_ids=experiments):
                    self._locations[model.model_id] = model.artifact_location
        except Exception:  # noqa: BLE001 - an optimisation only: facts() reads what is missing
            log.debug("prefetching MLflow facts failed", exc_info=True)

    @staticmethod
    def _all(search: Any, filter_string: str | None = None, **kwargs: Any) -> list[Any]:
        """Every page of a paged MLflow search."""
        results, token = [], None
        while True:
            page = search(filter_string=filter_string, page_token=token, max_results=1000, **kwargs) \
                if filter_string is not None else search(page_token=token, max_results=1000, **kwargs)
            results += list(page)
            token = page.token
            if not token:
                return results

    def registered_model_exists(self, name: str) -> bool:
        try:
            self._registered_model(name)
        except RegistryError:
            return False
        return True

    def promotion(self, name: str, alias: str | None, stage: str | None) -> Promotion | None:
        """Which version is in Production: the alias's version, else the one in the stage."""
        model = self._registered_model(name)
        aliases = dict(getattr(model, "aliases", None) or {})
        if alias and alias in aliases:
            return Promotion(name, str(aliases[alias]), "alias", alias)
        if stage and not self.aliases_only:
            for version in model.latest_versions or []:
                if version.current_stage == stage:
                    return Promotion(name, str(version.version), "stage", stage)
        return None

    def latest(self, name: str) -> Promotion | None:
        """The highest version of a registered model, promoted or not (for ``mlmeta init``)."""
        self._registered_model(name)
        versions = self._all(self.client.search_model_versions, f"name = '{name}'") if "'" not in name else []
        if not versions:
            return None
        newest = max(versions, key=lambda v: int(v.version))
        return Promotion(name, str(newest.version), "latest", "latest")

    def production_version(self, name: str, alias: str | None, stage: str | None) -> ProductionVersion | None:
        promotion = self.promotion(name, alias, stage)
        return self.facts(promotion) if promotion else None

    def facts(self, promotion: Promotion) -> ProductionVersion:
        """Everything the registry knows about a promoted version (3-4 requests)."""
        version = self._versions.get((promotion.registered_model, promotion.version))
        if version is None:
            try:
                version = self.client.get_model_version(promotion.registered_model, promotion.version)
            except Exception as error:  # noqa: BLE001
                raise _registry_error(error, promotion.registered_model) from None
        run = self._runs.get(version.run_id) or self._run(version.run_id)
        artifact_uri = self._locations.get(_logged_model_id(version) or "") or self._download_uri(version)
        mlmodel = self._mlmodel(artifact_uri) if artifact_uri else {}
        return ProductionVersion(
            registered_model=version.name, version=str(version.version), recognised_by=promotion.recognised_by,
            marker=promotion.marker, created_at=version.creation_timestamp, run_id=version.run_id,
            run_name=run.info.run_name if run else None,
            run_user=(run.info.user_id if run else None) or version.user_id or None,
            run_started_at=run.info.start_time if run else None,
            experiment_id=run.info.experiment_id if run else None,
            params=dict(run.data.params) if run else {}, metrics=dict(run.data.metrics) if run else {},
            signature=_signature(mlmodel), flavors=tuple((mlmodel.get("flavors") or {}).keys()),
            estimator=(run.data.tags.get("estimator_name") if run else None),
            artifact_uri=artifact_uri,
            version_url=self._ui_url(f"#/models/{quote(version.name, safe='')}/versions/{version.version}"),
            run_url=(self._ui_url(f"#/experiments/{run.info.experiment_id}/runs/{version.run_id}") if run else None),
        )

    def _registered_model(self, name: str) -> Any:
        with self._lock:
            known, absent = self._known.get(name), name in self._absent
        if known is not None:
            return known
        if not absent:
            try:
                return self.client.get_registered_model(name)
            except Exception as error:  # noqa: BLE001 - mlflow raises RestException and friends
                if _error_code(error) != "RESOURCE_DOES_NOT_EXIST":
                    raise _registry_error(error, name) from None
        raise RegistryError(f"registered model {name!r} not found in MLflow at {_safe_uri(self.registry_uri)}")

    def _run(self, run_id: str | None) -> Any:
        if not run_id:
            return None
        try:
            return self.client.get_run(run_id)
        except Exception as error:  # noqa: BLE001
            if _error_code(error) == "RESOURCE_DOES_NOT_EXIST":
                return None  # a version may outlive its run
            raise _registry_error(error, run_id) from None

    def _download_uri(self, version: Any) -> str | None:
        try:
            return self.client.get_model_version_download_uri(version.name, version.version)
        except Exception as error:  # noqa: BLE001
            raise _registry_error(error, version.name) from None

    def _mlmodel(self, artifact_uri: str) -> dict[str, Any]:
        """Only the MLmodel file: flavors and signature, without the model's weights."""
        import mlflow.artifacts

        with tempfile.TemporaryDirectory(prefix="mlmeta-") as folder:
            try:
                path = mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri.rstrip("/") + "/MLmodel",
                                                           dst_path=folder, tracking_uri=self.tracking_uri)
            except Exception as error:  # noqa: BLE001 - missing file: a registered non-MLflow model
                if _error_code(error) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(error).lower():
                    return {}
                raise _registry_error(error, artifact_uri) from None
            return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}

    def _ui_url(self, fragment: str) -> str | None:
        parts = urlsplit(self.tracking_uri)
        if parts.scheme not in ("http", "https"):
            return None
        return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}/{fragment}"


def _logged_model_id(version: Any) -> str | None:
    source = getattr(version, "source", "") or ""
    return source[len("models:/"):] if source.startswith("models:/m-") else None


def _signature(mlmodel: dict[str, Any]) -> tuple[SignatureInput, ...] | None:
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        columns = json.loads(inputs)
    except ValueError:
        return None
    return tuple(SignatureInput(str(c.get("name")), str(c.get("type"))) for c in columns if c.get("name"))


def _error_code(error: Exception) -> str | None:
    return getattr(error, "error_code", None)


def _safe_uri(uri: str) -> str:
    """A URI without credentials (http://user:pass@host -> http://host)."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=host).geturl()
    return uri


def _registry_error(error: Exception, subject: str) -> RegistryError:
    code = _error_code(error)
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    transient = code in _TRANSIENT_CODES or "connection" in text.lower() or "max retries" in text.lower()
    return RegistryError(f"MLflow error for {subject!r}: {text}", transient=transient)
