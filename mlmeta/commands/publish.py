"""``mlmeta plan`` and ``mlmeta publish``: every spec through one pipeline, several at once.

For each spec: find the registry's version in Production (or skip the spec), read the catalog's
entity, resolve references, build the desired entity, diff, then - publish only - create it or
PATCH the difference (If-Match on the version read, so a concurrent writer makes us re-read
instead of overwriting), and bring feature lineage in line. One spec failing never stops the
others. The adapters are passed in, so this module never imports an SDK.

Each model written records this project as its owner (``mlmeta.catalog.ownership``, where the catalog
defines the property); a model another project owns is left alone (O001), and ``--prune``
deletes only this project's orphans.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mlmeta.catalog import ownership, provenance

from mlmeta.commands import retire
from mlmeta.catalog.records import CatalogError, Edge, Ref
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.errors import ExitCode
from mlmeta.plan import lineage, signature, verify
from mlmeta.plan import training as training_data
from mlmeta.plan.desired import (FEATURE_SOURCE, MARK, Desired, WantedEdge, build, fingerprint, model_fqn,
                                 training_settings)
from mlmeta.plan.training import TrainingData
from mlmeta.plan.diff import Change, ModelDiff, diff
from mlmeta.registry.table import (alias_candidates, mistyped_alias, open_registry, registry_loc, settings_for,
                               wanted_of)
from mlmeta.registry.types import ProductionVersion, Promotion, RegistryError, version_label
from mlmeta.catalog.resolve import resolve, service_hint
from mlmeta.spec.load import LoadedSpec
from mlmeta.commands.validate import FileReport

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
    record: bool = False  # plan -o: also read each model's ETag, so that a saved plan can be checked against it
    expected: dict[str, dict[str, Any]] | None = None  # publish --plan: model FQN -> the saved plan's entry
    commits: dict[str, str | None] | None = None  # publish --plan: spec path -> its commit when the plan was made


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
    planned: dict[str, Any] = field(default_factory=dict)  # what the run read and would write (PLANNED keys)
    written: bool = False  # a write of this model reached the server

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
    commits: dict[str, str | None] = field(default_factory=dict)  # spec path -> the commit its entity records
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
    catalog: Any  # mlmeta.catalog.openmetadata.OpenMetadataCatalog or a stand-in with the same methods
    registry: Any  # mlmeta.registry.mlflow.MlflowRegistry or the like
    options: Options
    commits: dict[Path, str]
    provenance: frozenset[str] = frozenset()  # mlmeta's custom properties the server defines
    helpers: ThreadPoolExecutor | None = None  # for the independent writes of one model (its edges)
    project: str = ""  # this project's name, the owner it records (mlmeta.catalog.ownership)

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
    from mlmeta.commands.validate import validate_files

    validation = validate_files(files, default_service=settings.service, strict=options.strict,
                                service_required=True, policy=settings.card_policy)
    specs, warnings = validation.specs_of(options.registered_model)
    settings = settings_for(specs, settings)
    warnings = validation.warnings + warnings
    mode = "plan" if options.dry_run else "publish"
    report = Report(mode, [])
    invalid = [f for f in validation.files if not f.valid]
    if specs or options.prune:
        from mlmeta.catalog.openmetadata import OpenMetadataCatalog

        catalog = OpenMetadataCatalog(settings)  # first: a wrong host or token stops the run before any work
        registry = open_registry(settings)
        setup = provenance.set_up(catalog, dry_run=options.dry_run) if options.create_properties else []
        ctx = Context(settings, catalog, registry, options, _commits(specs, options),
                      provenance=provenance.defined(catalog) if specs or options.prune else frozenset(),
                      project=ownership.identify(settings).name)
        prefetch(ctx, specs)
        report = run(specs, ctx, on_done=on_done)
        report.commits = {s.display_path: ctx.commits.get(s.path.resolve()) for s in specs}
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


def _commits(specs: list[LoadedSpec], options: Options) -> dict[Path, str]:
    """The last commit of each spec, which its entity records - or, applying a saved plan, the commit
    the plan was made at: a squash merge gives the spec a new commit, and the plan writes what it says."""
    from mlmeta.spec.discovery import last_commits

    if options.commits is None:
        return last_commits([s.path for s in specs])
    return {s.path.resolve(): options.commits[s.display_path] for s in specs if options.commits.get(s.display_path)}


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
    if result.status == "failed" and not result.written:
        _forget_unmade(result)
    return result


def _forget_unmade(result: ModelResult) -> None:
    """A model that failed before any write shows its findings, never the diff of writes not made."""
    result.changes = []
    result.lineage_added, result.lineage_updated, result.lineage_removed = [], [], []
    result.outputs_added, result.outputs_updated, result.outputs_removed = [], [], []
    result.lineage_columns, result.lineage_roles = {}, {}
    result.columns_added, result.columns_removed = [], []


def _promotion(ctx: Context, loaded: LoadedSpec, result: ModelResult) -> Promotion | None:
    """The version in Production, or None (the spec is skipped, or failed with --require-production)."""
    spec = loaded.spec
    try:
        wanted = wanted_of(spec, ctx.settings)
        promotion = ctx.registry.promotion(wanted)
        typo = mistyped_alias(spec, wanted, promotion, alias_candidates(ctx.registry, wanted, promotion), ctx.settings)
    except RegistryError as error:
        raise _Failed(loaded.diagnostic(registry_loc(spec, error), error.code, str(error))) from None
    if typo is not None:
        raise _Failed(loaded.diagnostic(typo[0], "R014", typo[1]))
    if promotion is not None:
        result.production = {"registered_model": promotion.registered_model, "version": promotion.version,
                             "recognised_by": promotion.recognised_by, "marker": promotion.marker,
                             **({"registry": ctx.registry.name} if ctx.registry.name != "mlflow" else {})}
    _expect(ctx, loaded, result, "production", result.production)
    if promotion is None:
        how = wanted.rule.describe() if wanted.rule else " or ".join(filter(None, [
            f"alias {wanted.alias!r}" if wanted.alias else "", f"stage {wanted.stage!r}" if wanted.stage else ""]))
        message = f"not in production: no version of {spec.registered_model!r} has {how}"
        if ctx.options.require_production:
            raise _Failed(loaded.diagnostic(("name",), "R005", message))
        # a saved plan carries no retirement: applying one leaves a model out of production as it is
        if ctx.options.expected is None and retire.not_in_production(ctx, loaded, result,
                                                                     message[len("not in production: "):]):
            return None
        result.status, result.message = "skipped", message
        result.diagnostics.append(loaded.diagnostic(("name",), "R005", message, severity=Severity.NOTICE))
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
    applying = ctx.options.expected is not None
    for attempt in range(1 if applying else MAX_ATTEMPTS):  # a saved plan is applied as made, or not at all
        current = ctx.catalog.model(result.model, fresh=attempt > 0)
        _check_claim(ctx, loaded, current, result)
        if attempt == 0 and (ctx.options.record or applying):
            _expect(ctx, loaded, result, "catalog", _catalog_state(ctx, result.model, current))
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
    if applying:
        raise _Failed(loaded.diagnostic(("name",), STALE_PLAN, f"{result.model} changed while the saved plan was "
                                                               "applied, after its check; make a new plan",
                                        named=False))
    raise _Failed(loaded.diagnostic(("name",), "P001", f"{result.model} kept changing while publishing "
                                                       f"({MAX_ATTEMPTS} attempts); try again"))


# --- saved plans: what a run reads and would write, recorded by plan -o and held to by publish --plan ---

STALE_PLAN = "P003"  # the saved plan no longer holds
PLANNED = ("production", "catalog", "service", "create", "patch", "lineage")  # a saved plan's entry, per model


def _catalog_state(ctx: Context, model_fqn: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entity a plan is made against: a change to any of these since makes the plan stale."""
    if current is None:
        return None
    return {"id": current.get("id"), "version": current.get("version"), "updatedAt": current.get("updatedAt"),
            "etag": ctx.catalog.etag(model_fqn) if ctx.catalog.release.has("if_match") else None}


def as_json(value: Any) -> Any:
    """A value as a saved plan holds it (tuples become lists ...), so that the two compare equal."""
    return json.loads(json.dumps(value))


def _expect(ctx: Context, loaded: LoadedSpec, result: ModelResult, key: str, value: Any) -> None:
    """Record what this run read or would write (``result.planned``: a saved plan's entry) and - when
    applying a saved plan - hold it to the plan's, before anything is written: anything else refuses
    the model (a stale plan is made again, never half applied)."""
    value = as_json(value)
    result.planned[key] = value
    if ctx.options.expected is None:
        return
    entry = ctx.options.expected.get(result.model)
    if entry is None:
        raise _Failed(loaded.diagnostic(("name",), STALE_PLAN, f"{result.model} is not in the saved plan; make a new "
                                                               "plan", named=False))
    if entry.get(key) != value:
        raise _Failed(loaded.diagnostic(("name",), STALE_PLAN, stale_reason(key, entry.get(key), value)
                                        + "; make a new plan", named=False))


def stale_reason(key: str, planned: Any, now: Any) -> str:
    """One line for people: what changed since the plan was made."""
    if key == "production":
        def said(production: Any) -> str:
            return (f"{version_label(production['version'])} ({production['recognised_by']} {production['marker']})"
                    if production else "no version")
        return (f"the registry changed since the plan: {said(now)} is in Production now, the plan was made for "
                f"{said(planned)}")
    if key == "catalog":
        if planned is None:
            return "the catalog changed since the plan: the model exists now, the plan would create it"
        if now is None:
            return "the catalog changed since the plan: the model is gone, the plan would update it"
        if planned.get("id") != now.get("id"):
            return "the catalog changed since the plan: the model was deleted and created again"
        if planned.get("version") != now.get("version"):
            return (f"the catalog changed since the plan: the model is at version {now.get('version')} now, the plan "
                    f"was made against {planned.get('version')}")
        what = "ETag" if planned.get("etag") != now.get("etag") else "update time"
        return (f"the catalog changed since the plan: the model's {what} differs (version {now.get('version')} both: "
                "an edit the version does not show)")
    what = {"service": "the ML model service to create", "create": "the create request",
            "patch": "the JSON Patch", "lineage": "the lineage edges"}[key]
    return (f"{what} would differ from the plan's: what the model reads (its sources in the catalog, its lineage, "
            "its version's facts in the registry) changed since the plan")


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
    return _apply_lineage(ctx, desired, model, result, loaded, _lineage_plan(ctx, desired, result, loaded))


def _lineage_plan(ctx: Context, desired: Desired, result: ModelResult,
                  loaded: LoadedSpec) -> tuple[lineage.LineagePlan, lineage.LineagePlan]:
    """Which edges to draw and erase, upstream and downstream (shown in ``result``, held to a saved plan)."""
    edges = ctx.catalog.edges(result.model)
    result.columns_added, result.columns_removed = [], []  # counted anew when a conflict made us plan again
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
    _expect(ctx, loaded, result, "lineage", _lineage_writes(result.model, upstream.add + upstream.update
                                                            + downstream.add + downstream.update,
                                                            upstream.remove + downstream.remove))
    return upstream, downstream


def _apply_lineage(ctx: Context, desired: Desired, model: dict[str, Any], result: ModelResult, loaded: LoadedSpec,
                   planned: tuple[lineage.LineagePlan, lineage.LineagePlan]) -> bool:
    upstream, downstream = planned
    changed = not (upstream.empty and downstream.empty)
    if not ctx.options.dry_run and changed:
        me = _model_ref(model, result.model)
        calls = [partial(_draw, ctx, me, wanted) for wanted in
                 upstream.add + upstream.update + downstream.add + downstream.update]
        calls += [partial(_erase, ctx, me, edge) for edge in upstream.remove + downstream.remove]
        result.written = True
        ctx.in_parallel(calls)
        _confirm_edges(ctx, loaded, desired, me)
    return changed


def _lineage_writes(model_fqn: str, draw: list[WantedEdge], erase: list[Edge]) -> dict[str, Any] | None:
    """The lineage writes as a saved plan holds them: each edge drawn with its details, each erased
    (None: none - whether the run looked at the edges or trusted them unchanged)."""
    if not (draw or erase):
        return None
    return {"draw": [{"asset": w.source.as_json(), "downstream": w.downstream,
                      "details": lineage.details(model_fqn, w)} for w in draw],
            "erase": [{"asset": {"id": e.asset_id, "type": e.asset_type, "fullyQualifiedName": e.asset_fqn},
                       "downstream": e.downstream} for e in erase]}


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
    new_service = _service_to_create(ctx, loaded, desired.service)  # before any diff: a failure shows none
    request = desired.create_request()
    # the server draws a plain edge from each feature source: the rest are mlmeta's to draw - the ones
    # with a column-level mapping or more to say (label sources, training data), and the outputs
    to_draw = [wanted for wanted in desired.edges if not wanted.drawn_at_create] + desired.outputs
    _expect(ctx, loaded, result, "service", new_service)
    _expect(ctx, loaded, result, "create", request)
    _expect(ctx, loaded, result, "lineage", _lineage_writes(result.model, to_draw, []))
    result.changes = diff({}, desired).changes
    if new_service:
        result.changes.insert(0, Change("service", "added", f"ML model service {new_service!r} created first "
                                                              "(--create-service)", None, new_service))
    result.lineage_added = [w.source.fqn for w in desired.edges]
    result.outputs_added = [w.source.fqn for w in desired.outputs]
    _show_columns(result, desired.edges + desired.outputs)
    result.columns_added, result.columns_removed = [], []  # counted anew when a conflict made us plan again
    for wanted in desired.edges + desired.outputs:
        _count_pairs(result, (), wanted.columns)
    result.status = "created"
    if ctx.options.dry_run:
        return True
    if new_service:
        result.written = True
        ctx.catalog.create_service(new_service, ctx.settings.registry_address, ctx.settings.registry)
    try:
        created = ctx.catalog.create_model(request)
    except CatalogError as error:
        if error.status == 409:
            if ctx.options.expected is not None:
                return False  # created by someone since the plan's check: the plan does not hold
            result.created_before_answer = error.retried
            _restore_if_deleted(ctx, loaded, result)
            return False
        if error.status == 404 and "mlmodelService instance" in error.message:  # deleted since it was looked up
            if not ctx.options.create_service or ctx.options.expected is not None:
                raise _Failed(_missing_service(ctx, loaded, desired.service)) from None
            ctx.catalog.create_service(desired.service, ctx.settings.registry_address, ctx.settings.registry)
            return False
        raise _Failed(_server_diagnostic(loaded, error)) from None
    result.written = True
    if verify.unheld(created, desired, desired.fields):
        _confirm_held(ctx, loaded, created, desired, list(desired.fields), "create", "the answer differs")
    result.version_after = created.get("version")
    me = _model_ref(created, result.model)
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



def _service_to_create(ctx: Context, loaded: LoadedSpec, service: str) -> str | None:
    """The ML model service a new model goes in, when it is missing and the run may create it
    (--create-service); missing otherwise, the spec fails - before any diff is shown."""
    if ctx.catalog.reference("mlmodelService", service) is not None:
        return None
    if not ctx.options.create_service:
        raise _Failed(_missing_service(ctx, loaded, service))
    return service


def _missing_service(ctx: Context, loaded: LoadedSpec, service: str) -> Diagnostic:
    loc = ("service",) if loaded.spec.service else ("name",)
    return loaded.diagnostic(loc, "R008", f"ML model service {service!r} not found in OpenMetadata"
                                          f"{service_hint(ctx.catalog, service)}; create it, or rerun with "
                                          "--create-service")


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
    _expect(ctx, loaded, result, "patch", None if changes.empty else {"version": current.get("version"),
                                                                      "operations": changes.operations})
    edges = _lineage_plan(ctx, desired, result, loaded)  # held to a saved plan before the PATCH, too
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
        result.written = True
        written = [operation["path"][1:] for operation in changes.operations]
        why = verify.why_read_back(current, updated, desired, written, release=ctx.catalog.release,
                                   guarded_by_if_match=ctx.catalog.locks_with_if_match, user=ctx.catalog.user)
        if why is not None:
            updated = _confirm_held(ctx, loaded, current, desired, written, "PATCH", why)
        result.version_after = updated.get("version")
    lineage_changed = _apply_lineage(ctx, desired, current, result, loaded, edges)
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
