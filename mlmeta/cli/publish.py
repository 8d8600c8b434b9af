"""``mlmeta plan`` and ``mlmeta publish``: the specs' models written to the catalog (or shown as a
plan), a saved plan applied, the promotion events of a publish emitted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.cli.application import finish
from mlmeta.cli.arguments import spec_files
from mlmeta.cli.options import (ChangedSinceOption, ConcurrencyOption, Connection, CreateServiceOption,
                                FormatOption, PathsArgument, RefreshOption, RegisteredModelOption, SelectOption,
                                SinkOption, StrictOption, VerboseOption, spool_option)
from mlmeta.output import Format

PUBLISH_SPOOL = ".mlmeta/events-spool.jsonl"

PublishSpoolOption = spool_option(PUBLISH_SPOOL)
PruneOption = Annotated[bool, typer.Option(
    "--prune", help="Also soft-delete the models mlmeta published whose spec is gone (with --all, or the specs "
                    "deleted since --changed-since).")]
PlanPruneOption = Annotated[bool, typer.Option(
    "--prune", help="Also show the models mlmeta published whose spec is gone, which publish --prune would "
                    "soft-delete (with --all, or the specs deleted since --changed-since).")]


def plan(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    all_specs: Annotated[bool, typer.Option("--all", help="Every spec under the configured paths (the default).")]
    = False,
    strict: StrictOption = False,
    refresh: RefreshOption = False,
    concurrency: ConcurrencyOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    prune: PlanPruneOption = False,
    create_service: Annotated[bool, typer.Option(
        "--create-service", help="Plan a missing ML model service as publish --create-service would create it "
                                 "(else its specs fail with R008).")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="FILE", help="Also save the plan here (JSON): publish --plan FILE writes exactly "
                                               "it, or nothing if the catalog or the registry changed since.",
        show_default=False)] = None,
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Show, field by field, what publish would create or change. Writes nothing."""

    def body() -> int:
        from mlmeta.errors import UsageError
        from mlmeta.commands.publish import Options

        if output is not None and prune:
            raise UsageError("a saved plan does not carry --prune's deletions yet: leave out --prune or -o")
        return _publish("plan", paths, changed_since, all_specs, fmt,
                        Options(dry_run=True, strict=strict, refresh=refresh, registered_model=registered_model,
                                prune=prune, create_service=create_service, record=output is not None),
                        connection.overrides(concurrency=concurrency), save_to=output, select=select)

    finish("plan", fmt, body, verbose=verbose)


def publish(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    all_specs: Annotated[bool, typer.Option("--all", help="Publish every spec under the configured paths.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Same as plan: show what would change.")] = False,
    create_service: CreateServiceOption = False,
    create_properties: Annotated[bool, typer.Option(
        "--create-properties", help="First define mlmeta's custom properties on the mlmodel type (as setup "
                                    "does), so that the provenance is written as data.")] = False,
    require_production: Annotated[bool, typer.Option(
        "--require-production", help="Fail (instead of skip) specs with no version in Production.")] = False,
    strict: StrictOption = False,
    refresh: RefreshOption = False,
    concurrency: ConcurrencyOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    prune: PruneOption = False,
    emit_events: Annotated[bool, typer.Option("--emit-events", help="Emit a promotion event for each model "
                                                                   "created, updated or failed (see --sink).")]
    = False,
    sink: SinkOption = None,
    spool: PublishSpoolOption = None,
    saved_plan: Annotated[Optional[Path], typer.Option(
        "--plan", metavar="FILE", help="Apply exactly this saved plan (mlmeta plan -o FILE), or write nothing if "
                                       "the catalog, the registry or a spec changed since it was made.",
        show_default=False)] = None,
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Create or update the OpenMetadata ML models of the specs, with their feature lineage."""

    def body() -> int:
        from mlmeta.commands.publish import Options

        overrides = connection.overrides(concurrency=concurrency)
        if saved_plan is not None:
            _plan_decides({"PATHS": paths, "--changed-since": changed_since, "--all": all_specs,
                           "--create-service": create_service, "--create-properties": create_properties,
                           "--require-production": require_production, "--strict": strict, "--refresh": refresh,
                           "--registered-model": registered_model, "--prune": prune, "--select": select})
            return _apply_plan(saved_plan, dry_run, fmt, overrides,
                               (sink, spool or Path(PUBLISH_SPOOL)) if emit_events else None)
        mode = "plan" if dry_run else "publish"
        return _publish(mode, paths, changed_since, all_specs or (dry_run and not paths and not changed_since), fmt,
                        Options(dry_run=dry_run, create_service=create_service, require_production=require_production,
                                strict=strict, refresh=refresh, registered_model=registered_model, prune=prune,
                                create_properties=create_properties),
                        overrides, events=(sink, spool or Path(PUBLISH_SPOOL)) if emit_events and not dry_run
                        else None, select=select)

    finish("publish", fmt, body, verbose=verbose)


def _prune_scope(options, paths, changed_since, settings, select=None) -> None:
    """--prune needs every spec (--all) or the deletions since a ref: never a hand-picked subset."""
    from mlmeta.spec.discovery import deleted_since
    from mlmeta.errors import UsageError

    if not options.prune:
        return
    if paths or select:
        raise UsageError("--prune decides from every spec: use it with --all or --changed-since, not with "
                         + ("PATHS" if paths else "--select"))
    if changed_since:
        options.deleted_specs = deleted_since(changed_since, list(settings.spec_paths))


def _publish(mode: str, paths, changed_since, all_specs, fmt, options, overrides, events=None,
             save_to: Optional[Path] = None, select=None) -> int:
    from mlmeta.config import load_settings
    from mlmeta.errors import UsageError
    from mlmeta.output import render_publish
    from mlmeta.output.progress import progress
    from mlmeta.commands.publish import execute

    if mode == "publish" and not (paths or changed_since or all_specs or select):
        raise UsageError("say which specs to publish: PATHS, --all, or --changed-since REF (or --select SELECTOR)")
    if all_specs and (paths or changed_since):
        raise UsageError("--all publishes every spec: leave out PATHS and --changed-since")
    settings = load_settings(overrides)
    _prune_scope(options, paths, changed_since, settings, select)
    files = spec_files(paths, changed_since, settings, select, mode)
    emitter = event_emitter(events[0], events[1], settings, None) if events is not None else None
    if emitter is not None and not emitter.sinks:
        raise UsageError("--emit-events needs somewhere to send them: --sink, or event_sinks in the project file")
    with progress(len(files), mode, fmt is Format.TEXT) as advance:
        report = execute(files, settings, options, on_done=advance)
    render_publish(report, fmt)
    if save_to is not None:
        return max(report.exit_code, _save_plan(save_to, report, files, options, settings))
    if emitter is None:
        return report.exit_code
    return max(report.exit_code, _emit_report_events(report, settings, emitter))


def _save_plan(output: Path, report, files, options, settings) -> int:
    """plan -o: the plan as a file publish --plan applies; 1 (and no file) when it cannot be saved."""
    import json

    from mlmeta.commands import saved_plan

    from mlmeta import secrets
    from mlmeta.output import console
    from mlmeta.output.files import write_output

    problem = saved_plan.unsaveable(report, options)
    if problem:
        console.err(f"mlmeta plan: no plan saved: {problem}")
        return 1
    text = json.dumps(saved_plan.document(report, files, options, settings), indent=2, ensure_ascii=False)
    write_output(output, secrets.redact(text) + "\n", overwrite=True)  # a file like any output: no secret in it
    console.err(f"wrote {output}: apply exactly this with mlmeta publish --plan {output}")
    return 0


def _apply_plan(plan_file: Path, dry_run: bool, fmt, overrides, events) -> int:
    """publish --plan: the saved plan written as made, or nothing written at all."""
    from mlmeta.commands import saved_plan
    from mlmeta.config import load_settings
    from mlmeta.output import render_publish
    from mlmeta.output.progress import progress

    settings = load_settings(overrides)
    plan = saved_plan.load(plan_file)
    emitter = event_emitter(events[0], events[1], settings, None) if events is not None and not dry_run else None
    with progress(len(plan.models), "publish", fmt is Format.TEXT) as advance:
        report = saved_plan.apply(plan, settings, dry_run=dry_run, on_done=advance)
    render_publish(report, fmt)
    if emitter is None:
        return report.exit_code
    return max(report.exit_code, _emit_report_events(report, settings, emitter))


def _emit_report_events(report, settings, emitter) -> int:
    """The events of a publish; 1 when one could not be delivered (it waits in the spool)."""
    from mlmeta.output import console
    from mlmeta.registry.table import open_registry
    from mlmeta.triggers.promotions import events_of_report

    try:
        registry = report.registry or open_registry(settings)  # the one the run read (the specs may name it)
        events = events_of_report(report, registry) if report.results else []
        problems = emitter.emit(events)
    finally:
        emitter.close()
    for problem in problems:
        console.err(f"mlmeta publish: events: {problem}")
    return 1 if emitter.spooled else 0


def _plan_decides(given: dict) -> None:
    """publish --plan: the saved plan says which specs and how; an option that would too is refused."""
    from mlmeta.errors import UsageError

    clashing = [name for name, value in given.items() if value]
    if clashing:
        raise UsageError(f"--plan applies the saved plan as it was made: leave out {', '.join(clashing)}",
                         hint="the plan took its specs and options when it was made (mlmeta plan -o FILE)")


def event_emitter(sinks: Optional[list[str]], spool: Optional[Path], settings, default: str | None):
    """The sinks events go to (--sink, else the project's event_sinks, else ``default``) and the spool."""
    from mlmeta.config import event_sinks
    from mlmeta.events.sinks import Emitter, parse_sink

    names = list(sinks or []) or event_sinks(settings) or ([default] if default else [])
    return Emitter([parse_sink(name, settings.limits()) for name in names], spool)
