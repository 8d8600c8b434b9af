"""``mlmeta validate --online``: the checks that need the servers, without writing anything.

Tables and columns exist and are not deleted, owners, dashboard, domain, tags and glossary
terms exist (OpenMetadata); the registered model exists and has a Production version whose
signature matches the features, and whose logged training datasets the spec's sources name
(MLflow, when MLFLOW_TRACKING_URI is set).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mlmeta.catalog import CatalogError
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.errors import ServerError
from mlmeta.output import console
from mlmeta.plan import signature, training
from mlmeta.registries import open_registry, registry_label, registry_loc, settings_for, wanted_of
from mlmeta.registry import RegistryError
from mlmeta.resolve import resolve
from mlmeta.spec.load import LoadedSpec
from mlmeta.validate import FileReport, ValidationReport


def check_online(report: ValidationReport, settings: Settings, *, strict: bool = False) -> None:
    valid = [f for f in report.files if f.valid]
    if not valid:
        return
    from mlmeta.adapters.openmetadata import OpenMetadataCatalog

    settings = settings_for([f.spec for f in valid], settings)
    catalog = OpenMetadataCatalog(settings)
    report.openmetadata = catalog.release.as_dict()
    registry = None
    if settings.registry_address:
        registry = open_registry(settings)
    elif settings.registry == "kubeflow":
        console.err("mlmeta validate: Kubeflow Model Registry checks skipped (MODEL_REGISTRY_URL is not set)")
    else:
        console.err("mlmeta validate: MLflow checks skipped (MLFLOW_TRACKING_URI is not set)")

    def check(file: FileReport) -> None:
        try:
            found = _catalog_findings(file.spec, catalog, settings) + _registry_findings(file.spec, registry,
                                                                                          settings, catalog)
        except CatalogError as error:  # the server, not the spec: the check cannot be done
            raise ServerError(f"OpenMetadata could not answer the checks: {error.message}",
                              hint="rerun when the server is healthy; -v shows every retry") from None
        except RegistryError as error:
            raise ServerError(f"{registry_label(settings)} could not answer the checks: {error}",
                              hint="rerun when the server is healthy; -v shows every retry") from None
        file.diagnostics += [d.promoted() if strict and d.severity is Severity.WARNING else d for d in found]

    with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        list(pool.map(check, valid))


def _catalog_findings(loaded: LoadedSpec, catalog, settings: Settings) -> list[Diagnostic]:
    spec = loaded.spec
    _, findings = resolve(loaded, catalog, None)  # tables, columns, owners, dashboard, domain, tags, terms
    service = spec.service or settings.service
    if service and catalog.reference("mlmodelService", service) is None:
        findings.append(loaded.diagnostic(("service",) if spec.service else ("name",), "R008",
                                          f"ML model service {service!r} not found in OpenMetadata "
                                          "(publish --create-service would create it)", severity=Severity.WARNING))
    return findings


def _registry_findings(loaded: LoadedSpec, registry, settings: Settings, catalog) -> list[Diagnostic]:
    if registry is None:
        return []
    spec = loaded.spec
    try:
        facts = registry.production_version(wanted_of(spec, settings))
    except RegistryError as error:
        if error.transient:
            raise
        return [loaded.diagnostic(registry_loc(spec, error), error.code, str(error))]
    if facts is None:
        return [loaded.diagnostic(registry_loc(spec), "R005",
                                  f"no version of {spec.registered_model!r} is in production yet "
                                  "(publish will skip it)", severity=Severity.WARNING)]
    found = signature.check(loaded, facts)
    if training.mode(loaded, settings) != "ignore":
        found += training.check(loaded, training.look_up(facts, settings.datasets, catalog))
    return found
