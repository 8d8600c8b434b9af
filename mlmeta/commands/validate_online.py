"""``mlmeta validate --online``: the checks that need the servers, without writing anything.

Tables and columns exist and are not deleted, owners, dashboard, domain, tags and glossary
terms exist, and so does the ML model service - unless the publish may create it, which
``--create-service`` says (OpenMetadata); the registered model exists, the alias the spec waits
for is not a typo of one its versions carry, and it has a Production version whose signature
matches the features, and whose logged training datasets the spec's sources name (MLflow, when
MLFLOW_TRACKING_URI is set). The same checks as ``plan`` and ``publish`` make, at the same lines.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mlmeta.catalog.records import CatalogError
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.errors import ServerError
from mlmeta.output import console
from mlmeta.plan import signature, training
from mlmeta.registry.table import (alias_candidates, kind_of, mistyped_alias, open_registry, registry_label, registry_loc,
                               settings_for, wanted_of)
from mlmeta.registry.types import RegistryError
from mlmeta.catalog.resolve import resolve, service_hint
from mlmeta.spec.load import LoadedSpec
from mlmeta.commands.validate import FileReport, ValidationReport


def check_online(report: ValidationReport, settings: Settings, *, strict: bool = False,
                 create_service: bool = False) -> None:
    valid = [f for f in report.files if f.valid]
    if not valid:
        return
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog

    settings = settings_for([f.spec for f in valid], settings)
    catalog = OpenMetadataCatalog(settings)
    report.openmetadata = catalog.release.as_dict()
    registry = None
    if settings.registry_address:
        registry = open_registry(settings)
    else:
        kind = kind_of(settings.registry)
        console.err(f"mlmeta validate: {kind.label} checks skipped ({kind.address_setting} is not set)")

    def check(file: FileReport) -> None:
        try:
            found = _catalog_findings(file.spec, catalog, settings, create_service) + _registry_findings(
                file.spec, registry, settings, catalog)
        except CatalogError as error:  # the server, not the spec: the check cannot be done
            raise ServerError(f"OpenMetadata could not answer the checks: {error.message}",
                              hint="rerun when the server is healthy; -v shows every retry") from None
        except RegistryError as error:
            raise ServerError(f"{registry_label(settings)} could not answer the checks: {error}",
                              hint="rerun when the server is healthy; -v shows every retry") from None
        file.diagnostics += [d.promoted() if strict and d.severity is Severity.WARNING else d for d in found]

    with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        list(pool.map(check, valid))


def _catalog_findings(loaded: LoadedSpec, catalog, settings: Settings, create_service: bool) -> list[Diagnostic]:
    spec = loaded.spec
    _, findings = resolve(loaded, catalog, None)  # tables, columns, owners, dashboard, domain, tags, terms
    service = spec.service or settings.service
    if service and catalog.reference("mlmodelService", service) is None:
        where = ("service",) if spec.service else ("name",)
        if create_service:  # the publish will create it: worth a word, not a failure
            findings.append(loaded.diagnostic(where, "R008", f"ML model service {service!r} not found in "
                                                             "OpenMetadata; publish --create-service creates it",
                                              severity=Severity.NOTICE))
        else:
            findings.append(loaded.diagnostic(where, "R008", f"ML model service {service!r} not found in OpenMetadata"
                                                             f"{service_hint(catalog, service)}; create it, or publish "
                                                             "with --create-service (validate it with "
                                                             "--create-service too)"))
    return findings


def _registry_findings(loaded: LoadedSpec, registry, settings: Settings, catalog) -> list[Diagnostic]:
    if registry is None:
        return []
    spec = loaded.spec
    try:
        wanted = wanted_of(spec, settings)
        promotion = registry.promotion(wanted)
        typo = mistyped_alias(spec, wanted, promotion, alias_candidates(registry, wanted, promotion), settings)
        facts = registry.facts(promotion) if promotion is not None and typo is None else None
    except RegistryError as error:
        if error.transient:
            raise
        return [loaded.diagnostic(registry_loc(spec, error), error.code, str(error))]
    if typo is not None:
        return [loaded.diagnostic(typo[0], "R014", typo[1])]
    if facts is None:
        return [loaded.diagnostic(registry_loc(spec), "R005",
                                  f"no version of {spec.registered_model!r} is in production yet "
                                  "(publish will skip it)", severity=Severity.WARNING)]
    found = signature.check(loaded, facts)
    if training.mode(loaded, settings) != "ignore":
        found += training.check(loaded, training.look_up(facts, settings.datasets, catalog))
    return found
