"""``mlmeta plan`` and ``mlmeta publish``: every spec through one pipeline, several at once.

For each spec: find the MLflow version in Production (or skip the spec), read the catalog's
entity, resolve references, build the desired entity, diff, then - publish only - create it or
PATCH the difference (If-Match on the version read, so a concurrent writer makes us re-read
instead of overwriting), and bring feature lineage in line. One spec failing never stops the
others. The adapters are passed in, so this module never imports an SDK.

Each model written records this project as its owner (``mlmeta.ownership``, where the catalog
defines the property); a model another project owns is left alone (O001), and ``--prune``
deletes only this project's orphans.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mlmeta import ownership, provenance, retire
from mlmeta.catalog import CatalogError, Edge, Ref
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.errors import ExitCode
from mlmeta.plan import lineage, signature, verify
from mlmeta.plan import training as training_data
from mlmeta.plan.desired import (FEATURE_SOURCE, MARK, Desired, WantedEdge, build, fingerprint, model_fqn,
                                 training_settings)
from mlmeta.plan.training import TrainingData
from mlmeta.plan.diff import Change, ModelDiff, diff
from mlmeta.registries import open_registry, registry_loc, settings_for, wanted_of
from mlmeta.registry import ProductionVersion, Promotion, RegistryError
from mlmeta.resolve import resolve
from mlmeta.spec.load import LoadedSpec
from mlmeta.validate import FileReport

log = logging.getLogger("mlmeta.publish")
STATUSES = ("created", "updated", "unchanged", "deleted", "skipped", "failed")
MAX_ATTEMPTS = 3  # re-reads when another writer got there first (409, 412)
INCOMPLETE = MARK + "incomplete"  # the fingerprint of a model whose publish did not finish


@dataclass
class Options:
    dry_run: bool = False
    create_service: bool = False
    require_production: bool = False
    strict: bool = False
    refresh: bool = False
    registered_model: str | None = None  # only the specs documenting this registered model
    prune: bool = False  # soft-delete the models mlmeta published whose spec is gone
    deleted_specs: list[tuple[str, str]] | None = None  # with --changed-since: (path, text) of deleted specs
    create_properties: bool = False  # define mlmeta's custom properties on the mlmodel type first


@dataclass
class ModelResult:
    spec: str
    model: str
    status: str = "failed"  # one of STATUSES; in a plan: what publish would do
    version_before: float | None = None
    version_after: float | None = None
    production: dict[str, str] | None = None
    changes: list[Change] = field(default_factory=list)
    lineage_added: list[str] = field(default_factory=list)
    lineage_updated: list[str] = field(default_factory=list)  # ours, redrawn with a new column mapping
    lineage_removed: list[str] = field(default_factory=list)
    lineage_columns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # added/updated: the mapping
    lineage_roles: dict[str, list[str]] = field(default_factory=dict)  # added/updated: what an edge stands for,
    # when it is more than a feature source (label source, training data, predictions)
    columns_added: list[tuple[str, str]] = field(default_factory=list)  # column-level pairs (from, to) drawn
    columns_removed: list[tuple[str, str]] = field(default_factory=list)  # ... and taken away
    outputs_added: list[str] = field(default_factory=list)  # downstream edges, to where the predictions land
    outputs_updated: list[str] = field(default_factory=list)
    outputs_removed: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: str | None = None
    transient: bool = False  # failed because a server kept failing (not the spec): worth trying again
    created_before_answer: bool = False  # our POST was retried and got 409: its first try had landed
    patch_may_have_landed: bool = False  # our PATCH was retried and got 412: its first try may have landed

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "model": self.model, "status": self.status, "version_before": self.version_before,
                "version_after": self.version_after, "production": self.production,
                "changes": [c.as_dict() for c in self.changes],
                "lineage": {"added": self.lineage_added, "updated": self.lineage_updated,
                            "removed": self.lineage_removed, "columns": self.lineage_columns,
                            "roles": self.lineage_roles,
                            "column_pairs": {"added": [list(p) for p in self.columns_added],
                                             "removed": [list(p) for p in self.columns_removed]},
                            "outputs": {"added": self.outputs_added, "updated": self.outputs_updated,
                                        "removed": self.outputs_removed}},
                "diagnostics": [d.as_dict() for d in self.diagnostics], "message": self.message}


@dataclass
class Report:
    mode: str  # "plan" or "publish"
    results: list[ModelResult]
    invalid: list[FileReport] = field(default_factory=list)
    requests: int = 0  # OpenMetadata HTTP calls
    mlflow_requests: int = 0  # MLflow HTTP calls
    setup: list[provenance.SetupStep] = field(default_factory=list)  # with --create-properties
    openmetadata: dict[str, Any] | None = None  # the server's release and its behaviours
    warnings: list[str] = field(default_factory=list)  # about the run, not one spec (no file to point at)
    registry: Any = None  # the registry adapter the run read (its events' versions come from it)
    left_alone: ownership.LeftAlone | None = None  # with --prune: the orphans that are not this project's

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.results)
        counted["failed"] += len(self.invalid)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.invalid for d in f.diagnostics] + [d for r in self.results for d in r.diagnostics]

    @property
    def exit_code(self) -> ExitCode:
        setup_failed = any(step.status == "failed" for step in self.setup)
        return ExitCode.FINDINGS if self.counts["failed"] or setup_failed else ExitCode.OK


class _Failed(Exception):
    """Ends one spec's pipeline with a diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class Context:
    settings: Settings
    catalog: Any  # mlmeta.adapters.openmetadata.OpenMetadataCatalog or a stand-in with the same methods
    registry: Any  # mlmeta.adapters.mlflow.MlflowRegistry or the like
    options: Options
    commits: dict[Path, str]
    provenance: frozenset[str] = frozenset()  # mlmeta's custom properties the server defines
    helpers: ThreadPoolExecutor | None = None  # for the independent writes of one model (its edges)
    project: str = ""  # this project's name, the owner it records (mlmeta.ownership)

    @property
    def records_owner(self) -> bool:
        return ownership.recorded(self.provenance)

    def in_parallel(self, calls: list[Callable[[], Any]]) -> None:
        """Run independent requests at once (a model's lineage edges): a first publish sends one per
        source, and one after the other their latencies would add up."""
        if self.helpers is None or len(calls) < 2:
            for call in calls:
                call()
            return
        for future in [self.helpers.submit(call) for call in calls]:
            future.result()


def execute(files: list[Path], settings: Settings, options: Options, *,
            on_done: Callable[[ModelResult], None] | None = None) -> Report:
    """Validate the files, connect to both servers (only if a spec is valid) and run every spec."""
    from mlmeta.discovery import last_commits
    from mlmeta.validate import validate_files

    validation = validate_files(files, default_service=settings.service, strict=options.strict,
                                service_required=True, policy=settings.card_policy)
    specs, warnings = validation.specs_of(options.registered_model)
    settings = settings_for(specs, settings)
    warnings = validation.warnings + warnings
    mode = "plan" if options.dry_run else "publish"
    report = Report(mode, [])
    invalid = [f for f in validation.files if not f.valid]
    if specs or options.prune:
        from mlmeta.adapters.openmetadata import OpenMetadataCatalog

        catalog = OpenMetadataCatalog(settings)  # first: a wrong host or token stops the run before any work
        registry = open_registry(settings)
        setup = provenance.set_up(catalog, dry_run=options.dry_run) if options.create_properties else []
        ctx = Context(settings, catalog, registry, options, last_commits([s.path for s in specs]),
                      provenance=provenance.defined(catalog) if specs or options.prune else frozenset(),
                      project=ownership.identify(settings).name)
        prefetch(ctx, specs)
        report = run(specs, ctx, on_done=on_done)
        report.setup = setup
        report.registry = registry
        report.openmetadata = catalog.release.as_dict()
        if options.prune:
            pruned, report.left_alone = prune(ctx, specs, invalid)
            report.results += pruned
            report.requests = catalog.requests
    report.invalid = invalid
    report.warnings = warnings + (report.left_alone.lines() if report.left_alone else [])
    return report


def prune(ctx: Context, specs: list[LoadedSpec], invalid: list[FileReport]
          ) -> tuple[list[ModelResult], ownership.LeftAlone | None]:
    """Soft-delete (in a plan: show) this project's models whose spec is gone; the orphans of
    other projects, and those nobody owns, are counted and left alone."""
    if invalid:  # an invalid spec's model would look orphaned: never guess
        return [ModelResult("", "(prune)", "skipped", message=f"not pruning: {len(invalid)} spec(s) are invalid, and "
                                                              "their models would look orphaned")], None
    settings = ctx.settings
    documented = {model_fqn(s.spec, s.spec.service or settings.service) for s in specs}
    services = sorted({s.spec.service or settings.service for s in specs} | {settings.service} - {None, ""})
    results = []
    left_alone = ownership.LeftAlone(ctx.records_owner)
    for orphan in retire.orphans(ctx.catalog, services, documented, ctx.options.deleted_specs, settings.service):
        if not left_alone.sort(orphan.fqn, orphan.entity, ctx.project):
            continue
        result = ModelResult(orphan.spec, orphan.fqn, "deleted", version_before=orphan.entity.get("version"),
                             version_after=orphan.entity.get("version"),
                             message="its spec is gone: soft-deleted (publishing a spec for it restores it)")
        if not ctx.options.dry_run:
            problem = retire.delete_checked(ctx.catalog, orphan.entity)
            if problem:
                result.status, result.message = "failed", problem
        results.append(result)
    return results, left_alone


def prefetch(ctx: Context, specs: list[LoadedSpec]) -> None:
    """Batch a whole run's reads: the registered models' aliases and stages, the catalog's models of
    every service involved (paged lists), then the MLflow facts of only those specs whose entity
    is not already as published - an unchanged run reads no version, run or MLmodel file.

    Of the listed models, only the ones these specs document are kept, and of those already as
    published only what the fast path reads: memory follows the work, not the catalog's size."""
    ctx.registry.prefetch([s.spec.registered_model for s in specs])
    stamps: dict[str, tuple[str, Promotion]] = {}
    for loaded in specs:
        service = loaded.spec.service or ctx.settings.service
        try:
            promotion = ctx.registry.promotion(wanted_of(loaded.spec, ctx.settings))
        except RegistryError:
            continue  # reported by the spec's own pipeline
        if promotion is not None and service:
            stamps[model_fqn(loaded.spec, service)] = (_stamp(ctx, loaded, promotion), promotion)
        elif service and retire.policy(loaded, ctx.settings) != "keep":
            stamps[model_fqn(loaded.spec, service)] = (None, None)  # the policy needs the entity
    stale: list[Promotion] = []

    def keep(entity: dict[str, Any]) -> dict[str, Any] | None:
        wanted = stamps.pop(entity["fullyQualifiedName"], None)
        if wanted is None:
            return None  # not a model of these specs (or one that is not in production)
        stamp, promotion = wanted
        if promotion is None:
            return entity
        if _untouched(ctx, entity, stamp):
            kept = {key: entity[key] for key in _FAST_PATH_FIELDS if key in entity}
            if ownership.owner(entity):  # the fast path asks whose it is
                kept["extension"] = {ownership.PROPERTY: ownership.owner(entity)}
            return kept
        stale.append(promotion)
        return entity

    ctx.catalog.prefetch_models(sorted({s.spec.service or ctx.settings.service for s in specs} - {None, ""}), keep)
    stale += [promotion for _, promotion in stamps.values() if promotion]  # models the catalog does not have yet
    ctx.registry.prefetch_facts(stale)


_FAST_PATH_FIELDS = ("id", "name", "fullyQualifiedName", "version", "sourceHash", "updatedBy", "updatedAt")


def _stamp(ctx: Context, loaded: LoadedSpec, promotion: Promotion) -> str:
    return fingerprint(loaded, promotion, ctx.commits.get(loaded.path.resolve()), ctx.settings.registry_address,
                       ctx.provenance, training_settings(ctx.settings))


def run(specs: list[LoadedSpec], ctx: Context, *, on_done: Callable[[ModelResult], None] | None = None) -> Report:
    results: list[ModelResult] = []
    with ThreadPoolExecutor(max_workers=ctx.settings.concurrency, thread_name_prefix="mlmeta") as pool, \
            ThreadPoolExecutor(max_workers=ctx.settings.concurrency, thread_name_prefix="mlmeta-edges") as helpers:
        ctx.helpers = helpers
        futures = {pool.submit(publish_one, ctx, loaded): loaded for loaded in specs}
        try:
            for future in as_completed(futures):
                result = future.result()  # configuration errors (a rejected token) end the run
                results.append(result)
                if on_done:
                    on_done(result)
        except BaseException:
            for pending in futures:
                pending.cancel()
            raise
    order = {loaded.display_path: i for i, loaded in enumerate(specs)}
    results.sort(key=lambda r: order[r.spec])
    return Report("plan" if ctx.options.dry_run else "publish", results,
                  requests=getattr(ctx.catalog, "requests", 0), mlflow_requests=getattr(ctx.registry, "requests", 0))


def publish_one(ctx: Context, loaded: LoadedSpec) -> ModelResult:
    spec = loaded.spec
    service = spec.service or ctx.settings.service
    result = ModelResult(loaded.display_path, model_fqn(spec, service))
    try:
        if not service:
            raise _Failed(loaded.diagnostic(("name",), "R008", "no ML model service: set 'service' in the spec or "
                                                               "'service' in mlmeta.toml / [tool.mlmeta]"))
        promotion = _promotion(ctx, loaded, result)
        if promotion is not None:
            _pipeline(ctx, loaded, service, promotion, result)
    except _Failed as failure:
        result.status = "failed"
        if failure.diagnostic not in result.diagnostics:
            result.diagnostics.append(failure.diagnostic)
        result.message = failure.diagnostic.message
    except (CatalogError, RegistryError) as error:  # a server kept failing after the retries
        result.status = "failed"
        result.transient = error.transient
        result.message = f"OpenMetadata: {error.message}" if isinstance(error, CatalogError) else str(error)
        result.diagnostics.append(loaded.diagnostic(("name",), "P001", result.message))
    return result


def _promotion(ctx: Context, loaded: LoadedSpec, result: ModelResult) -> Promotion | None:
    """The version in Production, or None (the spec is skipped, or failed with --require-production)."""
    spec = loaded.spec
    try:
        wanted = wanted_of(spec, ctx.settings)
        promotion = ctx.registry.promotion(wanted)
    except RegistryError as error:
        raise _Failed(loaded.diagnostic(registry_loc(spec, error), error.code, str(error))) from None
    if promotion is None:
        how = wanted.rule.describe() if wanted.rule else " or ".join(filter(None, [
            f"alias {wanted.alias!r}" if wanted.alias else "", f"stage {wanted.stage!r}" if wanted.stage else ""]))
        message = f"not in production: no version of {spec.registered_model!r} has {how}"
        if ctx.options.require_production:
            raise _Failed(loaded.diagnostic(("name",), "R005", message))
        if retire.not_in_production(ctx, loaded, result, message[len("not in production: "):]):
            return None
        result.status, result.message = "skipped", message
        result.diagnostics.append(loaded.diagnostic(("name",), "R005", message, severity=Severity.NOTICE))
        return None
    result.production = {"registered_model": promotion.registered_model, "version": promotion.version,
                         "recognised_by": promotion.recognised_by, "marker": promotion.marker,
                         **({"registry": ctx.registry.name} if ctx.registry.name != "mlflow" else {})}
    return promotion


def _facts(ctx: Context, loaded: LoadedSpec, promotion: Promotion, result: ModelResult) -> ProductionVersion:
    facts = ctx.registry.facts(promotion)
    _report(ctx, result, signature.check(loaded, facts))
    return facts


def _training(ctx: Context, loaded: LoadedSpec, facts: ProductionVersion, result: ModelResult) -> TrainingData:
    """The version's training datasets in the catalog, checked against the spec's sources."""
    training = training_data.look_up(facts, ctx.settings.datasets, ctx.catalog)
    _report(ctx, result, training_data.check(loaded, training))
    return training


def _report(ctx: Context, result: ModelResult, findings: list[Diagnostic]) -> None:
    """Add a check's findings (warnings are errors with --strict); an error fails the spec."""
    if ctx.options.strict:
        findings = [d.promoted() if d.severity is Severity.WARNING else d for d in findings]
    result.diagnostics += findings
    errors = [d for d in findings if d.is_error]
    if errors:
        raise _Failed(errors[0])


def _pipeline(ctx: Context, loaded: LoadedSpec, service: str, promotion: Promotion, result: ModelResult) -> None:
    commit = ctx.commits.get(loaded.path.resolve())
    stamp = _stamp(ctx, loaded, promotion)
    facts: ProductionVersion | None = None
    training: TrainingData | None = None
    desired: Desired | None = None
    mode = training_data.mode(loaded, ctx.settings)
    for attempt in range(MAX_ATTEMPTS):
        current = ctx.catalog.model(result.model, fresh=attempt > 0)
        _check_claim(ctx, loaded, current, result)
        if _untouched(ctx, current, stamp):
            _confirm(ctx, loaded, current, result, desired)
            return
        if facts is None:
            facts = _facts(ctx, loaded, promotion, result)
        resolution, problems = resolve(loaded, ctx.catalog, current)
        if problems:
            result.diagnostics += problems[1:]
            raise _Failed(problems[0])
        if training is None and mode != "ignore":
            training = _training(ctx, loaded, facts, result)
        desired = build(loaded, service=service, facts=facts, resolution=resolution, current=current,
                        spec_commit=commit, stamp=stamp, drop_tag=ctx.settings.not_in_production_tag,
                        provenance=ctx.provenance, training=training, training_lineage=mode == "lineage",
                        project=ctx.project if ctx.records_owner else None)
        if current is None:
            if _create(ctx, loaded, desired, result):
                return
        elif _update(ctx, loaded, current, desired, result):
            return
    raise _Failed(loaded.diagnostic(("name",), "P001", f"{result.model} kept changing while publishing "
                                                       f"({MAX_ATTEMPTS} attempts); try again"))


def _untouched(ctx: Context, current: dict[str, Any] | None, stamp: str) -> bool:
    """Our last publish had these very inputs, nobody wrote to the entity since, and it is not
    marked as out of production (a promotion back to the same version must unmark it)."""
    return (current is not None and not ctx.options.refresh and current.get("sourceHash") == stamp
            and current.get("updatedBy") is not None and current.get("updatedBy") == ctx.catalog.user
            and not str(current.get("description") or "").startswith(retire.NOTICE)
            and (not ctx.records_owner or ownership.standing(current, ctx.project) == ownership.MINE))


def _check_claim(ctx: Context, loaded: LoadedSpec, current: dict[str, Any] | None, result: ModelResult) -> None:
    """A model another project owns is left alone (O001: nothing is written). One OpenMetadata's
    MLflow connector wrote last is taken over, with a warning (O002): the connector will write
    its fields back on its next run."""
    if current is None:
        return
    if ownership.standing(current, ctx.project) == ownership.OTHERS:
        raise _Failed(loaded.diagnostic(("name",), "O001", ownership.claimed_elsewhere(
            result.model, ownership.owner(current), ctx.project)))
    if ownership.by_connector(current) and not any(d.code == "O002" for d in result.diagnostics):
        verb = "would take" if ctx.options.dry_run else "takes"
        result.diagnostics.append(loaded.diagnostic(("name",), "O002", (
            f"{result.model} was written last by OpenMetadata's MLflow connector; publish {verb} it over, and the "
            "connector's next run writes its algorithm, features, hyperparameters, ML store and source URL back: "
            "exclude the registered model from the connector (mlModelFilterPattern), or publish into another "
            "service"), severity=Severity.WARNING))


def _confirm(ctx: Context, loaded: LoadedSpec, current: dict[str, Any], result: ModelResult,
             desired: Desired | None) -> None:
    """The entity is as we published it. Its lineage is trusted too (mlmeta drew it with that
    publish; a hand-deleted edge is drift, for ``mlmeta drift`` or ``--refresh``) - unless our own
    write (a PATCH or a POST, of ``desired``) landed in this very run with its answer lost, when the
    lineage step is still to do."""
    result.version_after = current.get("version")
    if result.version_before is None and not result.created_before_answer:
        result.version_before = result.version_after
    lineage_changed = False
    if (result.patch_may_have_landed or result.created_before_answer) and desired is not None:
        lineage_changed = _sync_lineage(ctx, desired, current, result, loaded)
    # only our own write carries this stamp: finding it means the write whose answer was lost landed
    _settle(result, changed=result.patch_may_have_landed or lineage_changed)


def _settle(result: ModelResult, *, changed: bool) -> None:
    result.status = "updated" if changed else "unchanged"
    if result.created_before_answer:
        result.status = "created"  # the answer to our POST was lost; the model found is the one it made


def _sync_lineage(ctx: Context, desired: Desired, model: dict[str, Any], result: ModelResult,
                  loaded: LoadedSpec) -> bool:
    """Bring the model's edges in line with the spec - upstream from its sources, labels and
    training data, downstream to its outputs - and check they hold; True when something was (or
    would be) done."""
    edges = ctx.catalog.edges(result.model)
    upstream = lineage.plan(result.model, desired.edges, edges)
    downstream = lineage.plan(result.model, desired.outputs, edges, downstream=True)
    result.lineage_added = [w.source.fqn for w in upstream.add]
    result.lineage_updated = [w.source.fqn for w in upstream.update]
    result.lineage_removed = [e.asset_fqn for e in upstream.remove]
    result.outputs_added = [w.source.fqn for w in downstream.add]
    result.outputs_updated = [w.source.fqn for w in downstream.update]
    result.outputs_removed = [e.asset_fqn for e in downstream.remove]
    _show_columns(result, upstream.add + upstream.update + downstream.add + downstream.update)
    stored = {(e.asset_id, e.downstream): e for e in edges}
    for wanted in upstream.add + upstream.update + downstream.add + downstream.update:
        before = stored.get((wanted.source.id, wanted.downstream))
        _count_pairs(result, lineage.stored_columns(before) if before else (), wanted.columns)
    for edge in upstream.remove + downstream.remove:
        _count_pairs(result, lineage.stored_columns(edge), ())
    changed = not (upstream.empty and downstream.empty)
    if not ctx.options.dry_run and changed:
        me = _model_ref(model, result.model)
        calls = [partial(_draw, ctx, me, wanted) for wanted in
                 upstream.add + upstream.update + downstream.add + downstream.update]
        calls += [partial(_erase, ctx, me, edge) for edge in upstream.remove + downstream.remove]
        ctx.in_parallel(calls)
        _confirm_edges(ctx, loaded, desired, me)
    return changed


def _count_pairs(result: ModelResult, before: tuple, after: tuple) -> None:
    """The column-level pairs (fromColumn, toColumn) an edge's redrawing adds and takes away."""
    def pairs(columns: tuple) -> set[tuple[str, str]]:
        return {(source, target) for target, sources in columns for source in sources}

    result.columns_added += sorted(pairs(after) - pairs(before))
    result.columns_removed += sorted(pairs(before) - pairs(after))


def _model_ref(model: dict[str, Any], model_fqn: str) -> Ref:
    return Ref(model["id"], "mlmodel", model.get("name") or model_fqn, model_fqn)


def _draw(ctx: Context, model: Ref, wanted: WantedEdge) -> None:
    """Draw (or redraw) one edge: into the model from an asset, or from the model to an output."""
    ends = (model, wanted.source) if wanted.downstream else (wanted.source, model)
    ctx.catalog.add_edge(*ends, lineage.details(model.fqn, wanted))


def _erase(ctx: Context, model: Ref, edge: Edge) -> None:
    ends = ((model.type, model.id), (edge.asset_type, edge.asset_id))
    ctx.catalog.delete_edge(*(ends if edge.downstream else ends[::-1]))


def _show_columns(result: ModelResult, edges: list[WantedEdge]) -> None:
    result.lineage_columns = {w.source.fqn: w.columns_lineage() for w in edges if w.columns}
    result.lineage_roles = {w.source.fqn: list(w.roles) for w in edges if w.roles != (FEATURE_SOURCE,)}


def _create(ctx: Context, loaded: LoadedSpec, desired: Desired, result: ModelResult) -> bool:
    """True when done; False to start over (someone created it meanwhile, or it was deleted)."""
    result.changes = diff({}, desired).changes
    result.lineage_added = [w.source.fqn for w in desired.edges]
    result.outputs_added = [w.source.fqn for w in desired.outputs]
    _show_columns(result, desired.edges + desired.outputs)
    for wanted in desired.edges + desired.outputs:
        _count_pairs(result, (), wanted.columns)
    result.status = "created"
    if ctx.options.dry_run:
        _plan_service(ctx, loaded, desired.service, result)
        return True
    try:
        created = ctx.catalog.create_model(desired.create_request())
    except CatalogError as error:
        if error.status == 409:
            result.created_before_answer = error.retried
            _restore_if_deleted(ctx, loaded, result)
            return False
        if error.status == 404 and "mlmodelService instance" in error.message:
            if not ctx.options.create_service:
                raise _Failed(_missing_service(loaded, desired.service)) from None
            ctx.catalog.create_service(desired.service, ctx.settings.registry_address, ctx.settings.registry)
            return False
        raise _Failed(_server_diagnostic(loaded, error)) from None
    if verify.unheld(created, desired, desired.fields):
        _confirm_held(ctx, loaded, created, desired, list(desired.fields), "create", "the answer differs")
    result.version_after = created.get("version")
    # the server drew a plain edge from each feature source: draw the rest - the ones with a
    # column-level mapping or more to say (label sources, training data), and the outputs
    me = _model_ref(created, result.model)
    to_draw = [wanted for wanted in desired.edges if not wanted.drawn_at_create] + desired.outputs
    try:
        ctx.in_parallel([partial(_draw, ctx, me, wanted) for wanted in to_draw])
    except CatalogError:
        _mark_incomplete(ctx, created)
        raise
    if to_draw:
        _confirm_edges(ctx, loaded, desired, me)
    return True


def _confirm_held(ctx: Context, loaded: LoadedSpec, written_to: dict[str, Any], desired: Desired, fields: list[str],
                  write: str, why: str) -> dict[str, Any]:
    """Read the model back after a write whose answer does not prove it stored ``fields``; a field
    the server does not hold fails the spec, and the model is marked so no run trusts it."""
    release = ctx.catalog.release
    log.debug("reading %s back after its %s: %s", desired.fqn, write, why)
    held = ctx.catalog.reread(written_to["id"])
    missing = verify.unheld(held, desired, fields)
    if not missing:
        return held
    _mark_incomplete(ctx, held or written_to)
    known = (" - a known bug of this release when a PATCH carries If-Match (issue 28876), which mlmeta sends "
             "none of here: please report it" if release.has("if_match_drops_entity_fields") else
             f" - OpenMetadata {release.version} is not known to do this: please report it")
    raise _Failed(loaded.diagnostic(("name",), "P002", (
        f"OpenMetadata {release.version} accepted the {write} of {desired.fqn} but does not hold "
        f"{', '.join(missing)} (read back after the write); mlmeta marked the model incomplete, so the next "
        f"publish writes it again{known}")))


def _confirm_edges(ctx: Context, loaded: LoadedSpec, desired: Desired, model: Ref) -> None:
    """Read the model's lineage back after writing edges: what is still to do was not stored."""
    edges = ctx.catalog.edges(model.fqn)
    upstream = lineage.plan(model.fqn, desired.edges, edges)
    downstream = lineage.plan(model.fqn, desired.outputs, edges, downstream=True)
    if upstream.empty and downstream.empty:
        return
    _mark_incomplete(ctx, {"id": model.id})
    left = [f"from {w.source.fqn}" for w in upstream.add + upstream.update]
    left += [f"from {e.asset_fqn}" for e in upstream.remove]
    left += [f"to {w.source.fqn}" for w in downstream.add + downstream.update]
    left += [f"to {e.asset_fqn}" for e in downstream.remove]
    raise _Failed(loaded.diagnostic(("name",), "P002", (
        f"OpenMetadata {ctx.catalog.release.version} accepted the lineage writes of {model.fqn} but "
        f"does not hold the edges {', '.join(left)} as written (read back after the writes); mlmeta marked the "
        "model incomplete, so the next publish draws them again")))


def _mark_incomplete(ctx: Context, model: dict[str, Any]) -> None:
    """The model may carry the fingerprint of a complete publish while part of it did not land:
    make the next run take the full path (which writes it again) instead of trusting it. Sent
    unguarded - it is mlmeta's own bookkeeping, and a guarded PATCH is what some releases drop.
    Best effort: a server that refuses this too leaves it to ``drift`` and ``--refresh``."""
    try:
        ctx.catalog.patch_model(model["id"], [{"op": "add", "path": "/sourceHash", "value": INCOMPLETE}], None)
    except CatalogError:
        pass



def _plan_service(ctx: Context, loaded: LoadedSpec, service: str, result: ModelResult) -> None:
    """In a plan: a missing ML model service is one more thing publish would create (with
    --create-service), else the spec fails as its publish would."""
    if ctx.catalog.reference("mlmodelService", service) is not None:
        return
    if not ctx.options.create_service:
        raise _Failed(_missing_service(loaded, service))
    result.changes.insert(0, Change("service", "added", f"ML model service {service!r} created first "
                                                          "(--create-service)", None, service))


def _missing_service(loaded: LoadedSpec, service: str) -> Diagnostic:
    loc = ("service",) if loaded.spec.service else ("name",)
    return loaded.diagnostic(loc, "R008", f"ML model service {service!r} not found in OpenMetadata; create it, "
                                          "or rerun with --create-service")


def _restore_if_deleted(ctx: Context, loaded: LoadedSpec, result: ModelResult) -> None:
    """A soft-deleted model of the spec comes back - unless another project owns it (O001)."""
    existing = ctx.catalog.model(result.model, include_deleted=True)
    if existing is not None and existing.get("deleted"):
        _check_claim(ctx, loaded, existing, result)
        ctx.catalog.restore_model(existing["id"])


def _update(ctx: Context, loaded: LoadedSpec, current: dict[str, Any], desired: Desired, result: ModelResult) -> bool:
    """True when done; False to start over (the entity changed or vanished since it was read)."""
    changes = diff(current, desired)
    if result.version_before is None:  # the version before this run, not before a retry
        result.version_before = current.get("version")
    result.version_after = current.get("version")
    result.changes = changes.changes
    if not changes.empty and not ctx.options.dry_run:
        try:
            updated = ctx.catalog.patch_model(current["id"], changes.operations, current["version"])
        except CatalogError as error:
            if error.status in (412, 404):
                # a retried PATCH meeting 412: its first try may have landed (the answer was lost)
                result.patch_may_have_landed |= error.status == 412 and error.retried
                return False
            raise _Failed(_server_diagnostic(loaded, error)) from None
        written = [operation["path"][1:] for operation in changes.operations]
        why = verify.why_read_back(current, updated, desired, written, release=ctx.catalog.release,
                                   guarded_by_if_match=ctx.catalog.locks_with_if_match, user=ctx.catalog.user)
        if why is not None:
            updated = _confirm_held(ctx, loaded, current, desired, written, "PATCH", why)
        result.version_after = updated.get("version")
    lineage_changed = _sync_lineage(ctx, desired, current, result, loaded)
    _settle_update(ctx, result, changes, lineage_changed)
    return True


def _settle_update(ctx: Context, result: ModelResult, changes: ModelDiff, lineage_changed: bool) -> None:
    """A patch of the fingerprint alone (the spec's text changed, not what it says) changes nothing
    anyone reads (from 1.11.9 the server keeps the version): the model is unchanged, and the
    reason is said."""
    fingerprint_only = changes.fingerprint_only and not lineage_changed
    _settle(result, changed=not (changes.empty or fingerprint_only))
    if fingerprint_only and result.status == "unchanged":
        written = "would be written" if ctx.options.dry_run else "written"
        version = ("the version moves by 0.1 on this release" if ctx.catalog.release.has("source_hash_bumps_version")
                   else "no new version")
        result.message = (f"fingerprint only: the spec's text changed, the catalog already holds what it says "
                          f"(the new fingerprint {written}, {version})")


_NOT_FOUND = re.compile(r"(\w+) instance for (.+?) not found")


def _server_diagnostic(loaded: LoadedSpec, error: CatalogError) -> Diagnostic:
    """Point a server's refusal at the spec line that caused it, when it names something there."""
    spec, loc = loaded.spec, ("name",)
    match = _NOT_FOUND.search(error.message)
    if match:
        kind, key = match.groups()
        candidates: list[tuple[tuple, str | None]] = [(("tags", i), t) for i, t in enumerate(spec.tags or [])]
        candidates += [(("glossary_terms", i), t) for i, t in enumerate(spec.glossary_terms or [])]
        candidates += [(("features", i, "tags", k), t) for i, f in enumerate(spec.features)
                       for k, t in enumerate(f.tags or [])]
        candidates += [(("dashboard",), spec.dashboard), (("domain",), spec.domain)]
        loc = next((where for where, value in candidates if value == key), loc)
    return loaded.diagnostic(loc, "P001", f"OpenMetadata refused the model: {error.message}")
