"""``mlmeta plan`` and ``mlmeta publish``: every spec through one pipeline, several at once.

For each spec: find the version in Production in the project's registry (or skip the spec), read
the catalog's entity, resolve references, build the desired entity, diff, then - publish only -
create it or PATCH the difference and bring its lineage in line (``publish_apply``), held to a
saved plan when one is applied (``publish_saved``). One spec failing never stops the others. The
adapters are passed in, so this module never imports an SDK; the run's records are in
``publish_types``, and are importable from here too.

Each model written records this project as its owner (``mlmeta.catalog.ownership``, where the catalog
defines the property); a model another project owns is left alone (O001), and ``--prune``
deletes only this project's orphans."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from mlmeta.catalog import ownership, provenance
from mlmeta.catalog.records import CatalogError
from mlmeta.catalog.resolve import resolve
from mlmeta.commands import retire
from mlmeta.commands.publish_apply import check_claim, confirm, create_model, untouched, update_model
from mlmeta.commands.publish_saved import PLANNED, STALE_PLAN, as_json, catalog_state, expect, stale_reason
from mlmeta.commands.publish_types import (INCOMPLETE, MAX_ATTEMPTS, STATUSES, Context, Failed, ModelResult, Options,
                                           Report)
from mlmeta.commands.validate import FileReport
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.plan import signature
from mlmeta.plan import training as training_data
from mlmeta.plan.desired import Desired, build, fingerprint, model_fqn, training_settings
from mlmeta.plan.training import TrainingData
from mlmeta.registry.table import (alias_candidates, kind_of, mistyped_alias, open_registry, registry_loc, settings_for,
                                   wanted_of)
from mlmeta.registry.types import ProductionVersion, Promotion, RegistryError
from mlmeta.spec.load import LoadedSpec

# what other modules and saved plans import from here, wherever it now lives
__all__ = ["INCOMPLETE", "MAX_ATTEMPTS", "PLANNED", "STALE_PLAN", "STATUSES", "Context", "ModelResult", "Options",
           "Report", "as_json", "execute", "prefetch", "prune", "publish_one", "run", "stale_reason"]


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
    every service involved (paged lists), then the registry's facts of only those specs whose
    entity is not already as published - an unchanged run reads no version, run or MLmodel file.

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
        if untouched(ctx, entity, stamp):
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
            raise Failed(loaded.diagnostic(("name",), "R008", "no ML model service: set 'service' in the spec or "
                                                               "'service' in mlmeta.toml / [tool.mlmeta]"))
        promotion = _promotion(ctx, loaded, result)
        if promotion is not None:
            _pipeline(ctx, loaded, service, promotion, result)
    except Failed as failure:
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
        raise Failed(loaded.diagnostic(registry_loc(spec, error), error.code, str(error))) from None
    if typo is not None:
        raise Failed(loaded.diagnostic(typo[0], "R014", typo[1]))
    if promotion is not None:
        result.production = {"registered_model": promotion.registered_model, "version": promotion.version,
                             "recognised_by": promotion.recognised_by, "marker": promotion.marker,
                             **({"registry": ctx.registry.name} if kind_of(ctx.registry.name).named_in_results
                                else {})}
    expect(ctx, loaded, result, "production", result.production)
    if promotion is None:
        how = wanted.rule.describe() if wanted.rule else " or ".join(filter(None, [
            f"alias {wanted.alias!r}" if wanted.alias else "", f"stage {wanted.stage!r}" if wanted.stage else ""]))
        message = f"not in production: no version of {spec.registered_model!r} has {how}"
        if ctx.options.require_production:
            raise Failed(loaded.diagnostic(("name",), "R005", message))
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
        raise Failed(errors[0])


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
        check_claim(ctx, loaded, current, result)
        if attempt == 0 and (ctx.options.record or applying):
            expect(ctx, loaded, result, "catalog", catalog_state(ctx, result.model, current))
        if untouched(ctx, current, stamp):
            confirm(ctx, loaded, current, result, desired)
            return
        if facts is None:
            facts = _facts(ctx, loaded, promotion, result)
        resolution, problems = resolve(loaded, ctx.catalog, current)
        if problems:
            result.diagnostics += problems[1:]
            raise Failed(problems[0])
        if training is None and mode != "ignore":
            training = _training(ctx, loaded, facts, result)
        desired = build(loaded, service=service, facts=facts, resolution=resolution, current=current,
                        spec_commit=commit, stamp=stamp, drop_tag=ctx.settings.not_in_production_tag,
                        provenance=ctx.provenance, training=training, training_lineage=mode == "lineage",
                        project=ctx.project if ctx.records_owner else None)
        if current is None:
            if create_model(ctx, loaded, desired, result):
                return
        elif update_model(ctx, loaded, current, desired, result):
            return
    if applying:
        raise Failed(loaded.diagnostic(("name",), STALE_PLAN, f"{result.model} changed while the saved plan was "
                                                               "applied, after its check; make a new plan",
                                        named=False))
    raise Failed(loaded.diagnostic(("name",), "P001", f"{result.model} kept changing while publishing "
                                                       f"({MAX_ATTEMPTS} attempts); try again"))


