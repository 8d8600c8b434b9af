"""``mlmeta drift``: what the catalog holds against what the specs and the registry say. Reads only.

Per spec, each difference becomes a finding at the spec's line that causes it:

| code | kind |
| --- | --- |
| D001 | a managed field edited in the catalog since mlmeta's last write (who, when: the entity's versions) |
| D002 | a source asset (table, topic, ...) deleted, or not in the catalog at all |
| D003 | a source column or field dropped |
| D004 | a source column or field retyped (its type no longer matches what the model records) |
| D005 | a lineage edge from one of the spec's sources missing |
| D006 | a lineage edge nobody manages added (not mlmeta's, from no source of the spec) |
| D007 | a Production version not published yet |
| D008 | the model has no Production version any more, but the catalog still shows one |
| D009 | a model mlmeta published whose spec is gone (orphans: only when every spec is checked) |
| D010 | the spec changed since the last publish |
| D011 | an edge's column-level lineage or what it stands for differs from the spec's (edited, or pruned by the server) |
| D012 | an edge mlmeta drew that the spec no longer asks for (a source, output or training dataset gone) |
| O001 | a model another project owns (``mlmeta.catalog.ownership``): not compared, named with its owner |
| O002 | a model OpenMetadata's MLflow connector wrote last |
| O003 | a model of the spec with no recorded owner yet: the next publish records this project (notice) |

Orphans (D009) are this project's models only: the other projects' are counted in one line, and
so are marked models with no recorded owner, which nothing deletes until a project adopts them.

The Production version's training datasets are compared with the spec's sources as ``plan`` does
(R010, R011, R012), and with ``training_data: lineage`` their edges are expected too. Edges go
both ways: upstream from sources, labels and training data, downstream to the spec's ``outputs``.

Unlike ``publish``, drift never trusts the fast path: every table is looked up and the lineage is
read, because that is exactly what may have moved. A model without mlmeta's mark (made by hand, or
by a connector) is not mlmeta's to compare: only a Production version waiting for its first
publish by mlmeta is reported (D007).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlmeta.catalog import ownership, provenance
from mlmeta.catalog.records import CatalogError
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.errors import ExitCode
from mlmeta.plan import lineage
from mlmeta.plan import training as training_data
from mlmeta.plan.desired import fingerprint, is_mlmetas, model_fqn, training_settings
from mlmeta.registry.table import open_registry, registry_loc, settings_for, wanted_of
from mlmeta.registry.types import RegistryError
from mlmeta.catalog.resolve import resolve
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.rules import source_identity
from mlmeta.commands.validate import FileReport

# catalog field -> where the spec says it (the finding's line)
_FIELD_LOC = {"description": ("description",), "displayName": ("display_name",), "algorithm": ("algorithm",),
              "target": ("target",), "server": ("server",), "mlFeatures": ("features",),
              "mlHyperParameters": ("hyperparameters",), "mlStore": ("ml_store",), "owners": ("owners",),
              "tags": ("tags",), "dashboard": ("dashboard",), "domains": ("domain",)}


@dataclass
class DriftReport:
    checked: int = 0
    findings: list[Diagnostic] = field(default_factory=list)
    orphans: list[dict[str, str]] = field(default_factory=list)  # {"model", "message"}: no spec to point at
    invalid: list[FileReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # about the run, not one spec
    left_alone: ownership.LeftAlone | None = None  # orphans that are not this project's (when orphans are looked for)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.invalid for d in f.diagnostics] + self.findings

    @property
    def drifted(self) -> int:
        """Specs checked that drifted (at most ``checked``; models without a spec are ``orphans``)."""
        return len({d.file for d in self.findings if d.severity is not Severity.NOTICE})

    @property
    def exit_code(self) -> ExitCode:
        drifted = any(d.severity is not Severity.NOTICE for d in self.findings)
        return ExitCode.FINDINGS if (drifted or self.orphans or self.invalid) else ExitCode.OK


def detect(files: list[Path], settings: Settings, *, registered_model: str | None = None,
           complete: bool = True) -> DriftReport:
    """``complete``: the files are every spec of the project, so a published model without one is
    an orphan (not with --changed-since or explicit paths)."""
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog
    from mlmeta.commands.validate import validate_files

    validation = validate_files(files, default_service=settings.service, service_required=True,
                                policy=settings.card_policy)
    specs, warnings = validation.specs_of(registered_model)
    settings = settings_for(specs, settings)
    report = DriftReport(invalid=[f for f in validation.files if not f.valid], warnings=validation.warnings + warnings)
    if not specs:
        return report
    catalog = OpenMetadataCatalog(settings)
    registry = open_registry(settings)
    registry.prefetch([s.spec.registered_model for s in specs])
    services = sorted({s.spec.service or settings.service for s in specs})
    catalog.prefetch_models(services)
    from mlmeta.spec.discovery import last_commits

    commits = last_commits([s.path for s in specs])
    defined = provenance.defined(catalog)  # part of the fingerprint publish wrote
    project = ownership.identify(settings).name
    promotions = []
    for loaded in specs:
        spec = loaded.spec
        try:
            promotions.append(registry.promotion(wanted_of(spec, settings)))
        except RegistryError:
            continue  # reported by the spec's own check
    registry.prefetch_facts([p for p in promotions if p is not None])  # the training datasets, in a few reads
    for loaded in specs:
        report.checked += 1
        report.findings += _spec_drift(loaded, settings, catalog, registry, commits.get(loaded.path.resolve()),
                                       defined, project)
    if complete and registered_model is None:
        _orphans(report, catalog, services, {model_fqn(s.spec, settings.service) for s in specs},
                 ownership.LeftAlone(ownership.recorded(defined)), project)
    return report


def _orphans(report: DriftReport, catalog: Any, services: list[str], documented: set[str],
             left_alone: ownership.LeftAlone, project: str) -> None:
    """D009 for each of this project's published models that no spec documents; the others' counted."""
    for service in services:
        for entity in catalog.iter_models(service):
            model = entity["fullyQualifiedName"]
            if not is_mlmetas(entity) or model in documented or not left_alone.sort(model, entity, project):
                continue
            report.orphans.append({"model": model, "message": (
                f"D009 published by mlmeta, but no spec documents it any more (last written by "
                f"{entity.get('updatedBy')} at {_when(entity.get('updatedAt'))}); publish --prune "
                "soft-deletes it")})
    report.left_alone = left_alone
    report.warnings += left_alone.lines()


def _spec_drift(loaded: LoadedSpec, settings: Settings, catalog: Any, registry: Any,
                commit: str | None, defined: frozenset[str], project: str) -> list[Diagnostic]:
    spec = loaded.spec
    service = spec.service or settings.service
    name = model_fqn(spec, service)
    found: list[Diagnostic] = []

    def finding(loc: tuple, code: str, message: str) -> None:
        found.append(loaded.diagnostic(loc, code, message, severity=Severity.WARNING))

    try:
        promotion = registry.promotion(wanted_of(spec, settings))
    except RegistryError as error:
        return [loaded.diagnostic(registry_loc(spec, error), error.code, str(error))]
    current = catalog.model(name)
    if ownership.standing(current, project) == ownership.OTHERS:  # another project's: not ours to compare
        return [loaded.diagnostic(("name",), "O001", ownership.claimed_elsewhere(name, ownership.owner(current),
                                                                                 project))]
    if ownership.by_connector(current):
        finding(("name",), "O002", f"{name} was written last by OpenMetadata's MLflow connector"
                + (" after mlmeta's last publish" if ownership.owner(current) else "")
                + "; publish takes it over (the connector writes its fields back on its next run)")
    if current is None or not is_mlmetas(current):  # nothing of mlmeta's to compare: only a waiting version is news
        if promotion is not None and not ownership.by_connector(current):  # O002 says it for the connector's
            state = ("is not in the catalog; publish creates it" if current is None else
                     "was not published by mlmeta (it carries no mlmeta mark); publish takes it over")
            finding(("name",), "D007", f"version {promotion.version} of {spec.registered_model!r} is in Production "
                                       f"({promotion.recognised_by} {promotion.marker}) but {name} {state}")
        return found
    if ownership.recorded(defined) and ownership.standing(current, project) == ownership.UNOWNED:
        found.append(loaded.diagnostic(("name",), "O003", f"{name} has no recorded owner yet; the next publish "
                                                         f"records this project ({project}) as its owner",
                                       severity=Severity.NOTICE))
    shown = registry.version_in_url(current.get("sourceUrl"), spec.registered_model)
    if promotion is None:
        finding((next((key for key in ("mlflow", "kubeflow") if key in spec.model_fields_set), "name"),), "D008",
                f"no version of {spec.registered_model!r} is in Production any more, but {name} still "
                + (f"shows version {shown}" if shown else "is in the catalog"))
    elif shown != promotion.version:
        finding(("name",), "D007", f"version {promotion.version} of {spec.registered_model!r} is in Production "
                                   f"({promotion.recognised_by} {promotion.marker}); the catalog shows "
                                   f"{f'version {shown}' if shown else 'no version'}; publish updates it")
    elif current.get("sourceHash") != fingerprint(loaded, promotion, commit, settings.registry_address, defined,
                                                      training_settings(settings)):
        finding(("name",), "D010", "the spec changed since it was last published; plan shows what publish would do")
    found += _edited_in_catalog(loaded, current, catalog)
    training = None
    if promotion is not None and training_data.mode(loaded, settings) != "ignore":
        training = training_data.look_up(registry.facts(promotion), settings.datasets, catalog)
        found += training_data.check(loaded, training)
    drawn = training.edge_roles() if training is not None and training_data.mode(loaded, settings) == "lineage" else []
    found += _source_drift(loaded, current, catalog, name, drawn)
    return found


def _edited_in_catalog(loaded: LoadedSpec, current: dict[str, Any], catalog: Any) -> list[Diagnostic]:
    """Managed fields changed by someone else since mlmeta last wrote the entity."""
    if current.get("updatedBy") in (None, catalog.user):
        return []
    managed = _managed_fields(loaded)
    edits: dict[str, tuple[str, Any]] = {}  # field -> (who, when), the newest edit first
    for version in catalog.versions(current["id"]):
        if version.get("updatedBy") == catalog.user:
            break  # mlmeta's last write: older edits were overwritten by it
        changes = version.get("changeDescription") or {}
        for change in changes.get("fieldsAdded", []) + changes.get("fieldsUpdated", []) + \
                changes.get("fieldsDeleted", []):
            root = str(change.get("name", "")).split(".")[0]
            if root in managed:
                edits.setdefault(root, (version.get("updatedBy"), version.get("updatedAt")))
    return [loaded.diagnostic(_field_loc(loaded, root), "D001",
                              f"{root} edited in the catalog by {who} at {_when(when)}, after mlmeta's last "
                              "publish; publish puts the spec's back, mlmeta pull takes the catalog's",
                              severity=Severity.WARNING)
            for root, (who, when) in edits.items()]


def _field_loc(loaded: LoadedSpec, root: str) -> tuple:
    """The spec's key for an entity field, when the spec writes it; else the model's name."""
    loc = _FIELD_LOC.get(root)
    return loc if loc and loc[0] in loaded.spec.model_fields_set else ("name",)


def _managed_fields(loaded: LoadedSpec) -> set[str]:
    """The entity fields a publish writes for this spec (the rest is left to the catalog's people)."""
    spec_keys = loaded.spec.model_fields_set
    managed = {"description", "algorithm", "mlHyperParameters", "mlStore", "sourceUrl"}
    for key, entity_key in (("display_name", "displayName"), ("target", "target"), ("server", "server"),
                            ("features", "mlFeatures"), ("owners", "owners"), ("tags", "tags"),
                            ("glossary_terms", "tags"), ("dashboard", "dashboard"), ("domain", "domains")):
        if key in spec_keys:
            managed.add(entity_key)
    return managed


def _source_drift(loaded: LoadedSpec, current: dict[str, Any], catalog: Any, name: str,
                  training_edges: list | None = None) -> list[Diagnostic]:
    """Sources deleted, dropped or retyped since they were recorded, and lineage out of step."""
    resolution, problems = resolve(loaded, catalog, current)
    found = []
    kinds = {"R001": "D002", "R003": "D002", "R002": "D003"}
    for problem in problems:
        if problem.code in kinds:
            found.append(Diagnostic(problem.file, problem.line, problem.column, kinds[problem.code], problem.message,
                                    Severity.WARNING))
    recorded = {(f["name"], s.get("name")): s.get("dataType") for f in current.get("mlFeatures") or []
                for s in f.get("featureSources") or []}
    for (i, j), source in resolution.sources.items():
        feature = loaded.spec.features[i]
        identity = source_identity(feature.sources[j])
        if identity.child is None or feature.sources[j].data_type is not None:
            continue  # a whole asset, or a type the spec sets itself
        before = recorded.get((feature.name, source.name))
        if before is not None and source.data_type is not None and before != source.data_type:
            child_type = catalog.asset(source.asset.type, identity.asset).children.get(identity.child, "?")
            found.append(loaded.diagnostic(("features", i, "sources", j), "D004",
                                           f"{source.child_fqn} is now {child_type} "
                                           f"({source.data_type}); the model records {before}",
                                           severity=Severity.WARNING))
    try:
        edges = catalog.edges(name)
    except CatalogError:
        return found
    names = [f.name for f in loaded.spec.features]
    unresolved = any(d.code in ("D002", "D003") for d in found)  # their edges' mapping differs for that reason
    for downstream, wanted_edges in ((False, resolution.edges(name, names, training_edges or [])),
                                     (True, resolution.output_edges(name, loaded.spec.outputs or [], names))):
        found += _lineage_drift(loaded, name, wanted_edges, edges, downstream=downstream, unresolved=unresolved)
    return found


def _lineage_drift(loaded: LoadedSpec, name: str, wanted_edges: list, edges: list, *, downstream: bool,
                   unresolved: bool) -> list[Diagnostic]:
    """D005, D011, D012 and D006 for one direction of the model's lineage."""
    loc = ("outputs",) if downstream and "outputs" in loaded.spec.model_fields_set else ("features",)

    def between(asset: str) -> str:
        return f"lineage from {name} to {asset}" if downstream else f"lineage from {asset} to {name}"

    def finding(code: str, message: str) -> Diagnostic:
        return loaded.diagnostic(loc, code, message, severity=Severity.WARNING)

    plan = lineage.plan(name, wanted_edges, edges, downstream=downstream)
    found = [finding("D005", f"{between(w.source.fqn)} is missing; publish --refresh draws it") for w in plan.add]
    found += [finding("D011", f"{between(w.source.fqn)} differs from the spec's (its column-level mapping or what it "
                              "stands for); publish --refresh redraws it") for w in ([] if unresolved else plan.update)]
    found += [finding("D012", f"{between(e.asset_fqn)} was drawn by mlmeta, but the spec no longer asks for it; "
                              "publish removes it") for e in ([] if unresolved else plan.remove)]
    wanted = {w.source.id for w in wanted_edges}
    for edge in edges:
        if edge.downstream == downstream and not lineage.owned(edge) and edge.asset_id not in wanted:
            who = (edge.details or {}).get("createdBy")
            found.append(finding("D006", f"{between(edge.asset_fqn)} was added by {who or 'someone else'}; the spec "
                                         "does not name it (mlmeta leaves it alone)"))
    return found


def _when(epoch_ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(epoch_ms) / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return "?"
