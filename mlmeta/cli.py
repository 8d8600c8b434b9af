"""mlmeta's command line: parse options, call one core function, render its result, exit.

Kept thin on purpose and cheap to import: the core, pydantic and above all the OpenMetadata SDK
and mlflow are imported inside the commands that need them, so ``mlmeta --version``,
``--help`` and ``validate`` start in a fraction of a second.
"""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta import __version__
from mlmeta.error_handler import run
from mlmeta.output import Format

app = typer.Typer(
    name="mlmeta",
    help="ML model documentation as code: validate specs, enrich them from MLflow, publish them to OpenMetadata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FormatOption = Annotated[Format, typer.Option("--format", "-f", metavar="text|json|github", help="Output format.",
                                              case_sensitive=False)]
PathsArgument = Annotated[
    Optional[list[Path]],
    typer.Argument(metavar="PATHS", help="Spec files or folders (default: spec_paths from mlmeta.toml or "
                                              "[tool.mlmeta] in pyproject.toml, else model_specs/).",
                   show_default=False),
]
ChangedSinceOption = Annotated[
    Optional[str],
    typer.Option("--changed-since", metavar="REF", help="Only specs changed since this git ref (e.g. origin/main)."),
]
SelectOption = Annotated[Optional[list[str]], typer.Option(
    "--select", metavar="SELECTOR", help="Only the specs a selector matches (repeatable: any of them): tag:Tier.Tier1, "
                                         "owner:USER_OR_TEAM, name:PATTERN or path:PATTERN (fnmatch; a folder "
                                         "selects what is below it).", show_default=False)]


HostOption = Annotated[Optional[str], typer.Option("--host", metavar="URL", help="OpenMetadata URL (else "
                                                                                 "OPENMETADATA_HOST).",
                                                   show_default=False)]
TokenFileOption = Annotated[Optional[Path], typer.Option(
    "--token-file", metavar="FILE", help="File with the OpenMetadata JWT (else OPENMETADATA_JWT_TOKEN[_FILE]).",
    show_default=False)]
MlflowOption = Annotated[Optional[str], typer.Option("--mlflow-uri", metavar="URL",
                                                     help="MLflow tracking server (else MLFLOW_TRACKING_URI).",
                                                     show_default=False)]
CaBundleOption = Annotated[Optional[Path], typer.Option("--ca-bundle", metavar="FILE",
                                                        help="CA bundle to verify OpenMetadata's TLS.",
                                                        show_default=False)]
TimeoutOption = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="SECONDS", help="Wait this long for one answer from a server (default 30).",
    show_default=False)]
DeadlineOption = Annotated[Optional[float], typer.Option(
    "--deadline", metavar="SECONDS", help="Give up on a server that has not answered for this long (default 60).",
    show_default=False)]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also show debug lines and the libraries' "
                                                                     "warnings (as MLMETA_DEBUG=1).")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]
RegisteredModelOption = Annotated[Optional[str], typer.Option(
    "--registered-model", metavar="NAME", help="Only the specs documenting this MLflow registered model.",
    show_default=False)]
SchemaRefOption = Annotated[Optional[str], typer.Option(
    "--schema-ref", metavar="REF", help="$schema line for editors (default: the project's mlmeta.schema.json, "
                                        "written by 'mlmeta schema -o', when there is one; '' for none).",
    show_default=False)]
SinkOption = Annotated[Optional[list[str]], typer.Option(
    "--sink", metavar="SINK", help="Where events go (repeatable): -, jsonl:FILE, http(s)://..., "
                                   "kafka://host:port/topic (default for watch and webhook: stdout).",
    show_default=False)]
PUBLISH_SPOOL = ".mlmeta/events-spool.jsonl"
WEBHOOK_SPOOL = "webhook-spool.jsonl"  # in the receiver's --state-dir (mlmeta.triggers.service uses the same)
WATCH_CHECKPOINT = ".mlmeta/watch-checkpoint.json"
SPOOL_BESIDE = "-spool.jsonl"  # watch's spool: the checkpoint's name with this instead of .json


def _spool_option(default: str):
    """--spool, with the default of its command in the help (each command keeps its own spool)."""
    return Annotated[Optional[Path], typer.Option(
        "--spool", metavar="FILE", help=f"Events a sink could not take wait here and are sent first next time "
                                        f"(default: {default}).", show_default=False)]


PublishSpoolOption = _spool_option(PUBLISH_SPOOL)
WatchSpoolOption = _spool_option(f"beside the checkpoint and named after it: {WATCH_CHECKPOINT[:-len('.json')]}"
                                 f"{SPOOL_BESIDE} for the default one")
WebhookSpoolOption = _spool_option(f"{WEBHOOK_SPOOL} in the --state-dir, .mlmeta/{WEBHOOK_SPOOL} for the default one")


PruneOption = Annotated[bool, typer.Option(
    "--prune", help="Also soft-delete the models mlmeta published whose spec is gone (with --all, or the specs "
                    "deleted since --changed-since).")]
PlanPruneOption = Annotated[bool, typer.Option(
    "--prune", help="Also show the models mlmeta published whose spec is gone, which publish --prune would "
                    "soft-delete (with --all, or the specs deleted since --changed-since).")]
CreateServiceOption = Annotated[bool, typer.Option("--create-service",
                                                   help="Create the ML model service if it is missing.")]
ConcurrencyOption = Annotated[Optional[int], typer.Option("--concurrency", metavar="N",
                                                          help="Models handled at once (default 8).",
                                                          show_default=False)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlmeta {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Exit codes: 0 ok, 1 findings or failed models, 2 usage or configuration error, 3 internal error."""


def _exit(code: int) -> None:
    raise typer.Exit(code)


def _spec_files(paths: Optional[list[Path]], changed_since: Optional[str], settings,
               select: Optional[list[str]] = None, command: str = "") -> list[Path]:
    from mlmeta.spec import discovery
    selectors = _selectors(select)  # a malformed one stops the command before anything is read
    roots = list(paths) if paths else list(settings.spec_paths)
    if not paths:
        _check_default_roots(roots, settings)
    if changed_since and discovery.no_commit_before(changed_since):
        from mlmeta.output import console

        console.err(f"mlmeta: --changed-since {changed_since[:12]}...: no commit before it (a branch's first "
                    "push): every spec is new, so every spec is taken")
    if changed_since:
        files = discovery.changed_since(changed_since, roots)
    else:
        files = discovery.find_spec_files(roots)
    return _selected_files(files, selectors, command) if selectors else files


def _selectors(select: Optional[list[str]]) -> list:
    from mlmeta.spec.selection import parse

    return parse(select) if select else []


def _selected_files(files: list[Path], selectors: list, command: str) -> list[Path]:
    """The spec files --select keeps (each is loaded to be judged, offline); a warning line on stderr
    for each selector that matches nothing."""
    from mlmeta.spec.discovery import display_path
    from mlmeta.output import console
    from mlmeta.spec.selection import Candidate, select
    from mlmeta.spec.load import load_spec

    cwd = os.getcwd()
    shown = {path: display_path(path, cwd) for path in files}
    candidates = {path: Candidate(shown[path], load_spec(path, shown[path]).spec) for path in files}
    kept, warnings = select(list(candidates.values()), selectors)
    for warning in warnings:
        console.err(f"mlmeta {command}: warning: {warning}")
    return [path for path, candidate in candidates.items() if candidate in kept]


def _schema_ref(given: Optional[str], output: Optional[Path], settings) -> Optional[str]:
    """The $schema reference a new spec gets: as given, else the project's schema file (relative to
    where the spec goes) when it exists - never a path that is not there."""
    import os

    if given is not None:
        return given or None
    root = settings.project_file.parent if settings.project_file else Path.cwd()
    schema = root / "mlmeta.schema.json"
    if not schema.is_file():
        return None
    folder = (output.parent if output else (settings.spec_paths[0] if settings.spec_paths else root)).resolve()
    return Path(os.path.relpath(schema.resolve(), folder)).as_posix()


def _refuse_overwrite(output: Optional[Path], command: str) -> None:
    import os

    from mlmeta.errors import UsageError

    if output is not None and os.path.lexists(output):  # a dangling symlink too: never written through
        raise UsageError(f"{output} exists; mlmeta {command} never overwrites a spec",
                         hint="choose another --output, or move the file away first")


def _require(option: str, value: object, valid: bool, expected: str) -> None:
    """A value that cannot work stops the command before it starts, naming its option (exit 2)."""
    from mlmeta.errors import UsageError

    if not valid:
        raise UsageError(f"{option} {value}: {expected}")


def _require_port(port: int) -> None:
    _require("--port", port, 0 <= port <= 65535, "a TCP port is between 1 and 65535 (0 picks a free one)")


def _check_default_roots(roots: list[Path], settings) -> None:
    """The configured spec folders exist, or a message that says where they were looked for."""
    from mlmeta.errors import UsageError

    missing = [root for root in roots if not root.exists()]
    if not missing:
        return
    if settings.project_file is None:
        raise UsageError(f"no spec folder {missing[0]}/ in {Path.cwd()} (and no mlmeta.toml or [tool.mlmeta] "
                         "above it to say where the specs are)",
                         hint="run mlmeta from the repository's root, set spec_paths in mlmeta.toml, or pass the "
                              "spec files or folders")
    if "spec_paths" not in settings.sources:
        raise UsageError(f"spec folder {missing[0]} not found (the default spec_paths, beside {settings.project_file})",
                         hint="create it, or set spec_paths in the project file")
    raise UsageError(f"spec folder {missing[0]} not found (spec_paths in {settings.project_file})",
                     hint="create it, or correct spec_paths")


def _check_watched_paths(paths: Optional[list[Path]], settings) -> None:
    """The spec paths a long-running command watches exist - checked at start, so that a folder
    that is not there is said with a hint (and no state folder is left behind for it)."""
    from mlmeta.errors import UsageError

    if not paths:
        _check_default_roots(list(settings.spec_paths), settings)
        return
    for path in paths:
        if not (path.exists() or path.is_symlink()):
            raise UsageError(f"path not found: {path}", hint=f"there is no {path} in {Path.cwd()}: pass the spec "
                                                             "files or folders as seen from here")


def _beside_project(settings, relative: str) -> Path:
    """Where a default state file goes: beside the project file, so that the same project keeps one
    state from whichever of its folders a command runs; without one, in the working directory."""
    return settings.project_file.parent / relative if settings.project_file else Path(relative)


@app.command()
def validate(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    select: SelectOption = None,
    fmt: FormatOption = Format.TEXT,
    strict: StrictOption = False,
    online: Annotated[bool, typer.Option("--online", help="Also check tables, columns, owners, tags ... in "
                                                          "OpenMetadata and the model in MLflow (reads only).")] = False,
    create_service: Annotated[bool, typer.Option(
        "--create-service", help="With --online: the publish will run with --create-service, so a missing ML "
                                 "model service is a notice, not an error.")] = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Check specs: YAML, schema, names and FQNs (offline), with file:line:col for every finding."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.output import render_validation
        from mlmeta.commands.validate import validate_files

        settings = load_settings(_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline)
                                 if online else {"timeout": timeout, "deadline": deadline})  # checked offline too
        report = validate_files(_spec_files(paths, changed_since, settings, select, "validate"),
                                default_service=settings.service, strict=strict, service_required=True,
                                policy=settings.card_policy)
        if online:
            from mlmeta.commands.validate_online import check_online

            check_online(report, settings, strict=strict, create_service=create_service)
        render_validation(report, fmt)
        return report.exit_code

    _exit(run("validate", fmt, body, verbose=verbose))


def _connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline, concurrency=None) -> dict:
    """The flags that say where the servers are and how long to wait (None: not given)."""
    return {"openmetadata_host": host, "token_file": token_file, "mlflow_tracking_uri": mlflow_uri,
            "ca_bundle": ca_bundle, "timeout": timeout, "deadline": deadline, "concurrency": concurrency}


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
    files = _spec_files(paths, changed_since, settings, select, mode)
    emitter = _emitter(events[0], events[1], settings, None) if events is not None else None
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

    from mlmeta.plan import saved as saved_plan

    from mlmeta import secrets
    from mlmeta.output import console

    problem = saved_plan.unsaveable(report, options)
    if problem:
        console.err(f"mlmeta plan: no plan saved: {problem}")
        return 1
    text = json.dumps(saved_plan.document(report, files, options, settings), indent=2, ensure_ascii=False)
    _write_output(output, secrets.redact(text) + "\n", overwrite=True)  # a file like any output: no secret in it
    console.err(f"wrote {output}: apply exactly this with mlmeta publish --plan {output}")
    return 0


def _apply_plan(plan_file: Path, dry_run: bool, fmt, overrides, events) -> int:
    """publish --plan: the saved plan written as made, or nothing written at all."""
    from mlmeta.plan import saved as saved_plan
    from mlmeta.config import load_settings
    from mlmeta.output import render_publish
    from mlmeta.output.progress import progress

    settings = load_settings(overrides)
    plan = saved_plan.load(plan_file)
    emitter = _emitter(events[0], events[1], settings, None) if events is not None and not dry_run else None
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


@app.command()
def plan(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    all_specs: Annotated[bool, typer.Option("--all", help="Every spec under the configured paths (the default).")]
    = False,
    strict: StrictOption = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Look up every table again, even for unchanged "
                                                            "sources.")] = False,
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
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
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
                        _connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline, concurrency),
                        save_to=output, select=select)

    _exit(run("plan", fmt, body, verbose=verbose))


@app.command()
def drift(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Compare the catalog with the specs and the registry; report every difference. Writes nothing."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.commands.drift import detect
        from mlmeta.output import render_drift

        settings = load_settings(_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        files = _spec_files(paths, changed_since, settings, select, "drift")
        report = detect(files, settings, registered_model=registered_model,
                        complete=not (paths or changed_since or select))  # a selection is no complete set
        render_drift(report, fmt)
        return report.exit_code

    _exit(run("drift", fmt, body, verbose=verbose))


@app.command()
def setup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be defined, define nothing.")] = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Define mlmeta's provenance custom properties on OpenMetadata's mlmodel type (idempotent)."""

    def body() -> int:
        from mlmeta.catalog.openmetadata import OpenMetadataCatalog
        from mlmeta.config import load_settings
        from mlmeta.output import render_setup
        from mlmeta.catalog.provenance import set_up

        settings = load_settings(_connection_overrides(host, token_file, None, ca_bundle, timeout, deadline))
        steps = set_up(OpenMetadataCatalog(settings), dry_run=dry_run)
        render_setup(steps, dry_run, fmt)
        return 1 if any(step.status in ("conflict", "failed") for step in steps) else 0

    _exit(run("setup", fmt, body, verbose=verbose))


@app.command()
def pull(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, write nothing.")] = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write descriptions improved in the catalog back into the specs (comments and layout kept)."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.output import console, github, jsonfmt, render_validation, text
        from mlmeta.commands.pull import pull as pull_texts
        from mlmeta.commands.validate import ValidationReport

        settings = load_settings(_connection_overrides(host, token_file, None, ca_bundle, timeout, deadline))
        report = pull_texts(_spec_files(paths, changed_since, settings, select, "pull"), settings, dry_run=dry_run,
                            registered_model=registered_model)
        if report.invalid and fmt is not Format.JSON:
            render_validation(ValidationReport(report.invalid), fmt)
        if fmt is Format.JSON:
            jsonfmt.dump({"command": "pull", "dry_run": dry_run, "changes": [vars(c) for c in report.changes],
                          "diffs": [d for p in report.pulls for d in p.diffs], "warnings": report.warnings,
                          "summary": {"checked": report.checked, "specs": len(report.pulls),
                                      "texts": len(report.changes), "invalid": len(report.invalid)}})
            return report.exit_code
        if fmt is Format.GITHUB:
            github.print_warnings("pull", report.warnings)
        for spec_pull in report.pulls:
            for diff in spec_pull.diffs:
                console.out(diff, end="")
        text.render_warnings(report.warnings)
        verb = "would take" if dry_run else "took"
        console.out(f"pull: {verb} {len(report.changes)} text(s) from the catalog into {len(report.pulls)} of "
                    f"{report.checked} spec(s)")
        return report.exit_code

    _exit(run("pull", fmt, body, verbose=verbose))


@app.command()
def adopt(
    models: Annotated[list[str], typer.Argument(metavar="FQN", help="The models to adopt, e.g. "
                                                                       "mlflow_models.churn.", show_default=False)],
    from_project: Annotated[Optional[str], typer.Option(
        "--from", metavar="PROJECT", help="Take over models this other project owns (its name, as the models "
                                          "record it).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be adopted, write nothing.")] = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Record this project as the owner of models mlmeta published (so prune may delete them once their spec is
    gone); another project's models only with --from."""

    def body() -> int:
        from mlmeta.catalog import ownership
        from mlmeta.catalog.openmetadata import OpenMetadataCatalog
        from mlmeta.commands.adopt import adopt as adopt_models
        from mlmeta.commands.catalog_import import model_name
        from mlmeta.config import load_settings
        from mlmeta.output import console, jsonfmt

        for model in models:
            model_name(model)  # a mistyped FQN stops the command before anything is read (exit 2)
        settings = load_settings(_connection_overrides(host, token_file, None, ca_bundle, timeout, deadline))
        project = ownership.identify(settings)
        done = adopt_models(OpenMetadataCatalog(settings), models, project.name, handover_from=from_project,
                            dry_run=dry_run)
        code = 1 if any(a.status in ("refused", "failed") for a in done) else 0
        if fmt is Format.JSON:
            jsonfmt.dump({"command": "adopt", "dry_run": dry_run, "project": project.name,
                          "models": [a.as_dict() for a in done]})
            return code
        for adoption in done:
            console.out(f"{adoption.model} [{adoption.status}]: {adoption.message}")
        adopted = sum(1 for a in done if a.status == "adopted")
        console.out(f"adopt: {adopted} of {len(done)} model(s) {'would be ' if dry_run else ''}adopted by "
                    f"{project.name} ({project.source})")
        return code

    _exit(run("adopt", fmt, body, verbose=verbose))


@app.command("import")
def import_(
    models: Annotated[list[str], typer.Argument(metavar="FQN", help="The catalog's models to write specs for, "
                                                                       "e.g. mlflow_models.churn.",
                                                show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the spec here (one model; refuses "
                                                                          "to overwrite). Default: the first spec "
                                                                          "folder, named after the model.")] = None,
    schema_ref: SchemaRefOption = None,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write a spec from a model already in the catalog (published from elsewhere, or ingested by OpenMetadata's
    MLflow connector); its next publish makes it this project's."""

    def body() -> int:
        from mlmeta.commands.catalog_import import import_models
        from mlmeta.config import load_settings
        from mlmeta.errors import UsageError
        from mlmeta.output import console, jsonfmt
        from mlmeta.output.text import diagnostic_line

        if output is not None and len(models) > 1:
            raise UsageError("-o names one file: import one model with -o, or leave it out to write each under the "
                             "spec folder")
        _refuse_overwrite(output, "import")
        settings = load_settings(_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        done = import_models(models, settings, output=output,
                             schema_ref=_schema_ref(schema_ref, output, settings))
        code = 1 if any(i.status != "written" for i in done) else 0
        if fmt is Format.JSON:
            jsonfmt.dump({"command": "import", "models": [i.as_dict() for i in done]})
            return code
        for imported in done:
            console.out(f"{imported.model} [{imported.status}]: {imported.message}")
            for diagnostic in imported.diagnostics:
                console.out("    " + diagnostic_line(diagnostic))
        written = sum(1 for i in done if i.status == "written")
        console.out(f"import: {written} of {len(done)} spec(s) written" + (
            "; validate them, then publish: that records this project as each model's owner" if written else ""))
        return code

    _exit(run("import", fmt, body, verbose=verbose))


@app.command()
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
    refresh: Annotated[bool, typer.Option("--refresh", help="Look up every table again, even for unchanged "
                                                            "sources.")] = False,
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
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Create or update the OpenMetadata ML models of the specs, with their feature lineage."""

    def body() -> int:
        from mlmeta.commands.publish import Options

        if saved_plan is not None:
            _plan_decides({"PATHS": paths, "--changed-since": changed_since, "--all": all_specs,
                           "--create-service": create_service, "--create-properties": create_properties,
                           "--require-production": require_production, "--strict": strict, "--refresh": refresh,
                           "--registered-model": registered_model, "--prune": prune, "--select": select})
            return _apply_plan(saved_plan, dry_run, fmt, _connection_overrides(
                host, token_file, mlflow_uri, ca_bundle, timeout, deadline, concurrency),
                (sink, spool or Path(PUBLISH_SPOOL)) if emit_events else None)
        mode = "plan" if dry_run else "publish"
        return _publish(mode, paths, changed_since, all_specs or (dry_run and not paths and not changed_since), fmt,
                        Options(dry_run=dry_run, create_service=create_service, require_production=require_production,
                                strict=strict, refresh=refresh, registered_model=registered_model, prune=prune,
                                create_properties=create_properties),
                        _connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline, concurrency),
                        events=(sink, spool or Path(PUBLISH_SPOOL)) if emit_events and not dry_run
                        else None, select=select)

    _exit(run("publish", fmt, body, verbose=verbose))


def _plan_decides(given: dict) -> None:
    """publish --plan: the saved plan says which specs and how; an option that would too is refused."""
    from mlmeta.errors import UsageError

    clashing = [name for name, value in given.items() if value]
    if clashing:
        raise UsageError(f"--plan applies the saved plan as it was made: leave out {', '.join(clashing)}",
                         hint="the plan took its specs and options when it was made (mlmeta plan -o FILE)")


def _emitter(sinks: Optional[list[str]], spool: Optional[Path], settings, default: str | None):
    from mlmeta.config import event_sinks
    from mlmeta.events.sinks import Emitter, parse_sink

    names = list(sinks or []) or event_sinks(settings) or ([default] if default else [])
    return Emitter([parse_sink(name, settings.limits()) for name in names], spool)


class LogFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


LogFormatOption = Annotated[LogFormat, typer.Option(
    "--log-format", help="The service's log on stderr: lines of text, or one JSON object per line (time, level, "
                         "logger, message) for a log collector.")]


def _service_log(log_format: LogFormat, logger: str):
    """Where a long-running command says what it does: text lines, or JSON lines."""
    from mlmeta.output import console

    if log_format is LogFormat.TEXT:
        return console.err

    def say(line: str) -> None:
        from mlmeta.output import logs

        console.err(logs.json_line("info", logger, line))

    return say


def _progress(fmt: Format):
    from mlmeta.output import console

    def show(line: str) -> None:
        if fmt is Format.JSON:
            import json

            console.err(json.dumps({"progress": line}))
        else:
            console.err(line)

    return show


@app.command()
def watch(
    paths: PathsArgument = None,
    select: SelectOption = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron and CI).")] = False,
    interval: Annotated[float, typer.Option("--interval", metavar="SECONDS", help="Time between passes.")] = 30.0,
    jitter: Annotated[float, typer.Option("--jitter", metavar="SHARE",
                                          help="Random spread of the interval, as a share of it.")] = 0.1,
    max_backoff: Annotated[float, typer.Option("--max-backoff", metavar="SECONDS",
                                               help="Longest wait after server errors.")] = 300.0,
    checkpoint: Annotated[Optional[Path], typer.Option(
        "--checkpoint", metavar="FILE", help=f"What was seen and published (kept across restarts); default "
                                             f"{WATCH_CHECKPOINT} beside the project file (mlmeta.toml, pyproject.toml), "
                                             "else in the working directory.", show_default=False)] = None,
    all_models: Annotated[bool, typer.Option("--all-models", help="Every registered model, not only the specs' "
                                                                  "(events for models without a spec too).")]
    = False,
    sink: SinkOption = None,
    spool: WatchSpoolOption = None,
    create_service: CreateServiceOption = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Poll the registry (MLflow, or Kubeflow Model Registry); publish what reaches Production; emit one event per
    promotion."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.triggers.watch import Watcher, WatchOptions

        _require("--interval", interval, interval > 0, "must be more than 0 seconds")
        _require("--jitter", jitter, 0 <= jitter < 1, "a share of the interval, from 0 up to (not including) 1")
        _require("--max-backoff", max_backoff, max_backoff >= interval, f"must be at least --interval ({interval:g})")
        selectors = _selectors(select)
        settings = load_settings(_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        if selectors:  # said once, on the specs as they are now; each pass selects again from its own reading
            from mlmeta.errors import UsageError

            if all_models:
                raise UsageError("--select chooses among the specs, --all-models watches every registered model: "
                                 "use one of them")
            _spec_files(paths, None, settings, select, "watch")
        _check_watched_paths(paths, settings)  # before anything is made on disk
        kept = checkpoint or _beside_project(settings, WATCH_CHECKPOINT)
        if all_models and settings.registry == "kubeflow":
            from mlmeta.errors import UsageError

            raise UsageError("--all-models: Kubeflow Model Registry has no default Production marker (each spec "
                             "declares its own), so only the specs' models can be watched")
        emitter = _emitter(sink, spool or kept.with_name(kept.stem + SPOOL_BESIDE), settings, "-")
        watcher = Watcher(settings, WatchOptions(checkpoint=kept, interval=interval, jitter=jitter,
                                                 max_backoff=max_backoff, once=once, all_models=all_models,
                                                 paths=list(paths) if paths else None, select=selectors,
                                                 create_service=create_service), emitter,
                          _service_log(log_format, "mlmeta.watch") if log_format is LogFormat.JSON else _progress(fmt))
        try:
            with watcher.signals_stop_it():
                return watcher.run()
        finally:
            emitter.close()

    _exit(run("watch", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON))


webhook_app = typer.Typer(help="Receive MLflow webhooks and publish the promotions they announce.",
                          no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")


BindOption = Annotated[str, typer.Option("--bind", metavar="ADDRESS",
                                         help="Address to listen on; keep 127.0.0.1 unless MLflow (or Prometheus) on "
                                              "another host or a proxy needs another (0.0.0.0: every interface).")]
ReconcileIntervalOption = Annotated[float, typer.Option(
    "--reconcile-interval", metavar="SECONDS", help="Also compare every watched model with the registry this often "
                                                    "(a delivery MLflow never sent); 0: only at start.")]
RetryIntervalOption = Annotated[float, typer.Option(
    "--retry-interval", metavar="SECONDS", help="How often a server that is down is probed; the work waiting "
                                                "goes on as soon as it answers.")]
WorkBackoffOption = Annotated[float, typer.Option("--max-backoff", metavar="SECONDS",
                                                  help="Longest wait of work that keeps failing while the servers "
                                                       "answer.")]
QueueOption = Annotated[Optional[str], typer.Option(
    "--queue", metavar="kafka://HOST:PORT/TOPIC", help="Kafka as the queue of accepted deliveries, instead of the "
                                                       "journal: the workers of one consumer group act on it "
                                                       "(mlmeta webhook work).", show_default=False)]
GroupOption = Annotated[str, typer.Option("--group", metavar="NAME",
                                          help="The workers' Kafka consumer group; its state is in the topic "
                                               "<queue topic>.<group>.state.")]
DEFAULT_GROUP = "mlmeta-webhook-workers"


@webhook_app.command("serve")
# the default names the variable holding the secret, not a secret (B107)
def webhook_serve(  # nosec B107
    bind: BindOption = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0 picks a free one).")] = 8686,
    path: Annotated[str, typer.Option("--path", help="URL path MLflow posts to.")] = "/",
    secret_env: Annotated[str, typer.Option("--secret-env", metavar="NAME",
                                            help="Environment variable holding the webhook's secret.")]
    = "MLMETA_WEBHOOK_SECRET",
    event: Annotated[Optional[list[str]], typer.Option(
        "--event", metavar="EVENT", help="Also act on model_version.created or model_version_tag.set "
                                         "(model_version_alias.created always).", show_default=False)] = None,
    max_age: Annotated[float, typer.Option("--max-age", metavar="SECONDS",
                                           help="Refuse deliveries whose timestamp is further off.")] = 300.0,
    queue_size: Annotated[int, typer.Option("--queue-size", help="Deliveries waiting in the journal at most; then "
                                                                 "503, and MLflow retries.")] = 10_000,
    state_dir: Annotated[Path, typer.Option("--state-dir", metavar="DIR",
                                            help="The journal of accepted deliveries, the checkpoint, the delivery ids "
                                                 "kept against replays, the dead letters and the lock.")]
    = Path(".mlmeta"),
    reconcile_interval: ReconcileIntervalOption = 3600.0,
    retry_interval: RetryIntervalOption = 5.0,
    max_backoff: WorkBackoffOption = 300.0,
    queue: QueueOption = None,
    also_work: Annotated[bool, typer.Option("--also-work", help="With --queue: also act on the queue in this "
                                                                "process, as a worker of --group.")] = False,
    group: GroupOption = DEFAULT_GROUP,
    forward: Annotated[Optional[str], typer.Option(
        "--forward", metavar="github-dispatch", help="Send a repository_dispatch instead of publishing here.",
        show_default=False)] = None,
    github_repository: Annotated[Optional[str], typer.Option(
        "--github-repository", metavar="OWNER/NAME", help="Repository receiving the dispatch.",
        show_default=False)] = None,
    github_event_type: Annotated[str, typer.Option("--github-event-type", metavar="TYPE",
                                                   help="The dispatch's event_type.")] = "mlflow-promotion",
    github_api_url: Annotated[str, typer.Option("--github-api-url", metavar="URL",
                                                help="GitHub's API (GitHub Enterprise: your server's).")]
    = "https://api.github.com",
    sink: SinkOption = None,
    spool: WebhookSpoolOption = None,
    ready_file: Annotated[Optional[Path], typer.Option("--ready-file", metavar="FILE",
                                                       help="Write {url} here once listening.")] = None,
    create_service: CreateServiceOption = False,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Serve an endpoint for MLflow webhooks (>= 3.3) until stopped (SIGTERM, Ctrl-C)."""

    def body() -> int:
        from mlmeta.triggers import service

        command = service.ServeCommand(
            bind=bind, port=port, path=path, secret_env=secret_env, events=list(event or []), max_age=max_age,
            queue_size=queue_size, state_dir=state_dir,
            timing=service.Timing(reconcile_interval, retry_interval, max_backoff), queue=queue,
            also_work=also_work, group=group, forward=forward, github_repository=github_repository,
            github_event_type=github_event_type, github_api_url=github_api_url, sinks=list(sink or []), spool=spool,
            ready_file=ready_file, create_service=create_service,
            overrides=_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        say = _service_log(log_format, "mlmeta.webhook") if log_format is LogFormat.JSON else _progress(fmt)
        return service.serve(command, say)

    _exit(run("webhook serve", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON))


@webhook_app.command("work")
def webhook_work(
    queue: QueueOption = None,
    group: GroupOption = DEFAULT_GROUP,
    reconcile_interval: ReconcileIntervalOption = 3600.0,
    retry_interval: RetryIntervalOption = 5.0,
    max_backoff: WorkBackoffOption = 300.0,
    sink: SinkOption = None,
    create_service: CreateServiceOption = False,
    bind: BindOption = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option("--port", metavar="PORT",
                                                help="Serve /health and /metrics on this port (0 picks a free "
                                                     "one; default: none).",
                                                show_default=False)] = None,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Act on the deliveries webhook serve --queue put on Kafka, as one worker of a consumer group,
    until stopped (SIGTERM, Ctrl-C)."""

    def body() -> int:
        from mlmeta.triggers import service

        command = service.WorkCommand(
            queue=queue, group=group, timing=service.Timing(reconcile_interval, retry_interval, max_backoff),
            sinks=list(sink or []), create_service=create_service, bind=bind, port=port,
            overrides=_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        say = _service_log(log_format, "mlmeta.work") if log_format is LogFormat.JSON else _progress(fmt)
        return service.work(command, say)

    _exit(run("webhook work", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON))


@app.command()
def init(
    from_mlflow: Annotated[str, typer.Option("--from-registry", "--from-mlflow", metavar="MODEL",
                                             help="Registered model to start from (in the project's registry: "
                                                  "MLflow, or Kubeflow Model Registry).")],
    alias: Annotated[Optional[str], typer.Option(help="Alias marking Production (default from configuration).",
                                                 show_default=False)] = None,
    stage: Annotated[Optional[str], typer.Option(help="Stage accepted when no version carries the alias: "
                                                      "Production (default) or Staging.", show_default=False)] = None,
    service: Annotated[Optional[str], typer.Option(help="OpenMetadata ML model service (default from "
                                                        "configuration).", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the spec here (refuses to "
                                                                          "overwrite).")] = None,
    schema_ref: SchemaRefOption = None,
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write a starter spec from a registered model: features from its signature, sources from the catalog's columns
    of the assets its logged training datasets map to, the algorithm and hyperparameters from its run."""

    def body() -> int:

        from mlmeta.config import load_settings
        from mlmeta.errors import UsageError
        from mlmeta.commands.init import next_step, notes, propose, read_catalog, starter_spec
        from mlmeta.registry.table import open_registry
        from mlmeta.registry.types import RegistryError, Wanted
        from mlmeta.spec.model import DEFAULT_STAGE, STAGES

        _refuse_overwrite(output, "init")
        if stage not in (None, *STAGES):
            raise UsageError(f"--stage {stage}: a spec accepts {' or '.join(STAGES)}")
        settings = load_settings(_connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline))
        registry = open_registry(settings)
        try:
            # Kubeflow Model Registry has no marker to look for: the newest version, and a rule to fill in
            promotion = None if settings.registry == "kubeflow" else registry.promotion(
                Wanted(from_mlflow, alias or settings.alias, stage or DEFAULT_STAGE))
            promotion = promotion or registry.latest(from_mlflow)
            if promotion is None:
                raise UsageError(f"registered model {from_mlflow!r} has no version yet")
            facts = registry.facts(promotion)
        except RegistryError as error:
            raise UsageError(str(error)) from None
        from mlmeta.catalog.datasets import DatasetRules, map_dataset

        datasets = [map_dataset(d, settings.datasets or DatasetRules()) for d in facts.training_datasets]
        catalog = read_catalog(datasets, settings)  # the columns of the assets they map to: one GET each
        proposals = propose(facts, datasets, catalog)
        text = starter_spec(facts, service=service or settings.service,
                            schema_ref=_schema_ref(schema_ref, output, settings), alias=alias, stage=stage,
                            datasets=datasets, proposals=proposals)
        said = notes(facts, datasets, catalog)
        if fmt is not Format.JSON:
            from mlmeta.output import console

            for line in said:
                console.err(f"mlmeta init: {line}")
        _deliver(text, output, fmt, {"command": "init", "spec": text, "output": str(output or ""), "notes": said},
                 next_step(facts, proposals), overwrite=False)
        return 0

    _exit(run("init", fmt, body, verbose=verbose))


@app.command()
def doctor(
    host: HostOption = None,
    token_file: TokenFileOption = None,
    mlflow_uri: MlflowOption = None,
    ca_bundle: CaBundleOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    write_test: Annotated[bool, typer.Option(
        "--write-test", help="Instead of the read-only checks: in a scratch ML model service it creates and always "
                             "removes, see how the OpenMetadata server behaves where releases differ, and compare "
                             "with mlmeta's record of its release (exit 1 when a behaviour differs).")] = False,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Check that everything mlmeta needs is in place: configuration, both servers, the token's user and its
    roles, the ML model service, the provenance properties, git and the spec folders - each problem with its
    fix. Reads only; --write-test instead writes, in a scratch ML model service of its own."""

    def body() -> int:
        import json

        from mlmeta.commands import doctor as checks
        from mlmeta.config import load_settings
        from mlmeta.output import console

        overrides = _connection_overrides(host, token_file, mlflow_uri, ca_bundle, timeout, deadline)
        if write_test:
            return _write_test(checks.quick(load_settings(overrides)), fmt)
        report = checks.run(checks.quick(load_settings(overrides)))
        if fmt is Format.JSON:
            console.out(json.dumps({"version": 1, "command": "doctor", "settings": report.settings,
                                    "checks": [c.as_dict() for c in report.checks], "problems": report.problems},
                                   indent=2))
            return report.exit_code
        console.out("configuration:")
        for key, shown in report.settings.items():
            console.out(f"  {key} = {shown['value']}  ({shown['from']})")
        marks = {"ok": "ok ", "warning": "!  ", "problem": "X  ", "skipped": "-  "}
        for check in report.checks:
            console.out(f"{marks[check.status]}{check.name}: {check.detail}")
            if check.fix:
                console.out(f"     fix: {check.fix}")
        console.out(f"doctor: {report.problems} problem(s)" if report.problems else "doctor: all green")
        return report.exit_code

    _exit(run("doctor", fmt, body, verbose=verbose))


def _write_test(settings, fmt: Format) -> int:
    """``doctor --write-test``: the self-test's report as text, or as JSON to attach to an issue."""
    from mlmeta.commands import doctor_write_test as selftest
    from mlmeta.output import console, jsonfmt

    report = selftest.run(settings, say=console.err)
    if fmt is Format.JSON:
        jsonfmt.dump(report.as_dict())
    else:
        for line in report.lines():
            console.out(line)
    return report.exit_code


def _deliver(text: str, output: Path | None, fmt: Format, document: dict, next_step: str | None = None,
             *, overwrite: bool = True) -> None:
    """A generated file: written to ``output`` (the path said on stderr), and on stdout as text, or as
    the JSON ``document`` with ``--format json``."""
    import json

    from mlmeta.output import console

    if output is not None:
        _write_output(output, text, overwrite=overwrite)
        console.err(f"wrote {output}" + (f": {next_step}" if next_step else ""))
    if fmt is Format.JSON:
        console.out(json.dumps({"version": 1, **document}, indent=2, ensure_ascii=False))
    elif output is None:
        console.out(text, end="")


def _write_output(output: Path, text: str, *, overwrite: bool) -> None:
    """A file a command was asked to write: all or nothing, never through a symlink, and - for a
    spec (``overwrite=False``) - never over anything already there, even one made since the check."""
    from mlmeta import state
    from mlmeta.errors import UsageError

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            state.replace_file(output, text.encode("utf-8"))
        else:
            state.create_file(output, text.encode("utf-8"))
    except FileExistsError:
        raise UsageError(f"{output} exists; mlmeta never overwrites a spec",
                         hint="choose another --output, or move the file away first") from None
    except OSError as error:
        raise UsageError(f"--output: cannot write {output}: {error.strerror or error}") from None


@app.command()
def card(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec to export.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the card here (e.g. README.md "
                                                                          "of a Hugging Face repository).")] = None,
    mlflow_uri: MlflowOption = None,
    timeout: TimeoutOption = None,
    deadline: DeadlineOption = None,
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Export a spec as a Hugging Face style model card: metadata with the Production version's metrics as
    model-index results, then the card's sections, the features and the provenance."""

    def body() -> int:

        from mlmeta.commands import card as model_card
        from mlmeta.config import load_settings
        from mlmeta.spec.discovery import last_commits
        from mlmeta.errors import ServerError, UsageError
        from mlmeta.output import console, render_validation
        from mlmeta.plan.desired import model_fqn
        from mlmeta.registry.types import RegistryError
        from mlmeta.commands.validate import validate_files

        settings = load_settings({"mlflow_tracking_uri": mlflow_uri, "timeout": timeout, "deadline": deadline})
        if not spec_path.is_file():
            raise UsageError(f"{spec_path}: no such spec file")
        report = validate_files([spec_path], default_service=settings.service, policy=settings.card_policy)
        if report.exit_code:
            render_validation(report, fmt)
            return report.exit_code
        [loaded] = report.specs()
        from mlmeta.registry.table import settings_for

        settings = settings_for([loaded], settings)
        facts, why = None, None
        if not settings.registry_address:
            why = (f"{'MODEL_REGISTRY_URL' if settings.registry == 'kubeflow' else 'MLFLOW_TRACKING_URI'} is not set, "
                   "so the Production version's metrics were not read")
        else:
            from mlmeta.registry.table import open_registry, registry_label, wanted_of

            spec = loaded.spec
            try:
                facts = open_registry(settings).production_version(wanted_of(spec, settings))
            except RegistryError as error:
                if error.transient:
                    raise ServerError(f"{registry_label(settings)} could not answer: {error}") from None
                why = str(error)
            if facts is None and why is None:
                why = f"no version of {spec.registered_model!r} is in Production"
        commit = last_commits([loaded.path]).get(loaded.path.resolve())
        exported = model_card.build(loaded, model_fqn(loaded.spec, settings.service), facts, no_results=why,
                                    spec_commit=commit)
        text = model_card.markdown(exported)
        if exported.no_results:
            console.err(f"mlmeta card: the card has no results: {exported.no_results}")
        _deliver(text, output, fmt, {"command": "card", **exported.as_dict(), "markdown": text})
        return 0

    _exit(run("card", fmt, body, verbose=verbose))


@app.command()
def explain(
    code: Annotated[Optional[str], typer.Argument(metavar="CODE", help="A finding code, such as R002 (any case; "
                                                                        "without one, every code is listed).",
                                                  show_default=False)] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Say what a finding code means, why it happens and how to fix it, with an example."""

    def body() -> int:
        import json

        from mlmeta import explanations
        from mlmeta.output import console

        said = explanations.listing() if code is None else explanations.explain(explanations.known(code))
        if fmt is Format.JSON:
            console.out(json.dumps({"version": 1, "command": "explain", **said}, indent=2, ensure_ascii=False))
        else:
            console.out(explanations.as_text(said))
        return 0

    _exit(run("explain", fmt, body))


class GraphFormat(str, enum.Enum):
    MERMAID = "mermaid"
    DOT = "dot"
    JSON = "json"


@app.command()
def graph(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    select: SelectOption = None,
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", metavar="mermaid|dot|json", case_sensitive=False,
                                             help="Mermaid (GitHub renders it), Graphviz DOT, or the graph as "
                                                  "data.")] = GraphFormat.MERMAID,
    verbose: VerboseOption = False,
) -> None:
    """Draw each model's lineage, sources -> features -> model -> outputs, from its spec (offline)."""

    def body() -> int:
        import json

        from mlmeta.commands import graph as lineage_graph
        from mlmeta.config import load_settings
        from mlmeta.output import console, render_validation
        from mlmeta.plan.desired import model_fqn
        from mlmeta.commands.validate import validate_files

        settings = load_settings({})
        report = validate_files(_spec_files(paths, changed_since, settings, select, "graph"),
                                default_service=settings.service, policy=settings.card_policy)
        if report.exit_code:
            render_validation(report, Format.JSON if fmt is GraphFormat.JSON else Format.TEXT)
            return report.exit_code
        graphs = [lineage_graph.build(s.spec, model_fqn(s.spec, settings.service)) for s in report.specs()]
        if fmt is GraphFormat.JSON:
            console.out(json.dumps({"version": 1, "command": "graph", "graphs": [g.as_dict() for g in graphs]},
                                   indent=2))
        else:
            render = lineage_graph.mermaid if fmt is GraphFormat.MERMAID else lineage_graph.dot
            console.out("\n".join(render(g) for g in graphs), end="")
        return 0

    _exit(run("graph", Format.JSON if fmt is GraphFormat.JSON else Format.TEXT, body, verbose=verbose))


@app.command()
def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="The schema is JSON in every format.",
                                        case_sensitive=False)] = Format.JSON,
) -> None:
    """Print the spec's JSON Schema (draft-07, for editors and check-jsonschema)."""

    def body() -> int:
        from mlmeta.output import console
        from mlmeta.spec.schema import json_schema_text

        text = json_schema_text()
        if output:
            _write_output(output, text, overwrite=True)
        else:
            console.out(text, end="")
        return 0

    _exit(run("schema", fmt, body))


@app.command()
def convert(
    file: Annotated[Path, typer.Argument(help="A spec in OpenMetadata's ML-model CI/CD demo format (or v1).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the v1 spec here (refuses to "
                                                                          "overwrite).")] = None,
    schema_ref: SchemaRefOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Rewrite a demo-format ML model YAML as a v1 spec (stdout, or --output)."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.spec.discovery import find_spec_files
        from mlmeta.output import console, jsonfmt, render_validation
        from mlmeta.spec.convert import to_v1_yaml, v1_data
        from mlmeta.commands.validate import validate_files

        find_spec_files([file])  # a missing file is a usage error (exit 2), as for every command
        _refuse_overwrite(output, "convert")
        report = validate_files([file])
        if report.exit_code:
            render_validation(report, fmt)
            return report.exit_code
        loaded = report.specs()[0]
        if fmt is Format.JSON:
            jsonfmt.dump({"command": "convert", "source_format": loaded.format, "spec": v1_data(loaded)})
            return 0
        text = to_v1_yaml(loaded, _schema_ref(schema_ref, output, load_settings()))
        if output:
            _write_output(output, text, overwrite=False)
            console.err(f"wrote {output}")
        else:
            console.out(text, end="")
        return 0

    _exit(run("convert", fmt, body))


def _sandbox_release(version: Optional[str], quirks: list[str]) -> tuple[Optional[str], frozenset[str]]:
    """The release the sandbox plays, and the behaviours added to it: checked before anything starts."""
    from mlmeta.errors import UsageError
    from mlmeta.catalog.releases import BY_KEY, UnsupportedRelease, capabilities, supported_range

    if version is not None:
        try:
            capabilities(version)
        except UnsupportedRelease as error:
            raise UsageError(f"--server-version: {error} (the sandbox plays {supported_range()})") from None
    unknown = sorted(set(quirks) - set(BY_KEY))
    if unknown:
        raise UsageError(f"--quirk: unknown behaviour {unknown[0]!r}; choose from {', '.join(sorted(BY_KEY))}")
    return version, frozenset(quirks)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you mean to share it.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8585,
    catalog: Annotated[Optional[Path], typer.Option(help="Catalog YAML to seed (default: the demo catalog).")] = None,
    state: Annotated[Optional[Path], typer.Option(help="Keep state in this JSON file across restarts.")] = None,
    token_file: Annotated[Optional[Path], typer.Option(
        metavar="FILE", help="Write tokens ({user: JWT}) for mlmeta-bot and admin to this file (mode 600), and each "
                             "user's token to USER.jwt beside it (default: ~/.cache/mlmeta/sandbox/tokens.json, "
                             "outside any repository).", show_default=False)] = None,
    secret: Annotated[Optional[str], typer.Option(envvar="MLMETA_SANDBOX_SECRET", show_envvar=True,
                                                  help="HS256 secret for tokens (default: random, or the state's).")]
    = None,
    latency_ms: Annotated[float, typer.Option(help="Delay added to every request.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Random +/- spread of the delay.")] = 0.0,
    failure_rate: Annotated[float, typer.Option(help="Share of requests answered with a failure status.")] = 0.0,
    failure_status: Annotated[Optional[list[int]], typer.Option(help="Statuses to fail with (repeatable).")] = None,
    drop_rate: Annotated[float, typer.Option(help="Share of requests whose connection is dropped.")] = 0.0,
    server_version: Annotated[Optional[str], typer.Option(
        metavar="X.Y.Z", help="The OpenMetadata release to play, 1.5.0 to 2.0.x: its version, its own schemas "
                              "(fetched once into ~/.cache/mlmeta) and its behaviour, known write bugs included "
                              "(default: the newest supported release).", show_default=False)] = None,
    quirk: Annotated[Optional[list[str]], typer.Option(
        metavar="BEHAVIOUR", help="Also behave as BEHAVIOUR of the release record (repeatable), e.g. "
                                  "if_match_drops_entity_fields on a release without that bug: what a client "
                                  "meets from a server that misbehaves unannounced.", show_default=False)] = None,
    ready_file: Annotated[Optional[Path], typer.Option(help="Write {url, api_url} here once listening.")] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Serve a local stand-in of the OpenMetadata REST API (/api/v1) until interrupted."""

    def body() -> int:
        import json
        import signal

        from mlmeta.output import console
        from mlmeta.standins.openmetadata import FaultSettings, Sandbox
        from mlmeta.standins.openmetadata.faults import ALLOWED_STATUSES

        _require_port(port)
        for option, value in (("--latency-ms", latency_ms), ("--jitter-ms", jitter_ms)):
            _require(option, value, value >= 0, "cannot be negative")
        for option, value in (("--failure-rate", failure_rate), ("--drop-rate", drop_rate)):
            _require(option, value, 0 <= value <= 1, "a share of the requests, between 0 and 1")
        for status in failure_status or []:
            _require("--failure-status", status, status in ALLOWED_STATUSES,
                     f"one of {', '.join(map(str, ALLOWED_STATUSES))}")
        try:
            faults = FaultSettings(latency_ms=latency_ms, jitter_ms=jitter_ms, failure_rate=failure_rate,
                                   statuses=failure_status or [503], drop_rate=drop_rate)
            faults.check()
        except ValueError as error:
            from mlmeta.errors import UsageError

            raise UsageError(f"fault settings: {error}") from None
        release, quirks = _sandbox_release(server_version, quirk or [])
        try:
            server = Sandbox(host=host, port=port, catalog=catalog, state_file=state, secret=secret,
                             server_version=release, faults=faults, quirks=quirks, progress=console.err)
        except OSError as error:
            from mlmeta.errors import UsageError

            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        server.warm_up()  # load the release's schemas (seconds) before saying we are ready
        from mlmeta.errors import UsageError
        from mlmeta.standins.openmetadata.tokens import default_token_file, keep_out_of_git

        tokens = token_file or default_token_file()
        try:
            bot_token = server.write_tokens(tokens)["mlmeta-bot"]
        except OSError as error:  # the user's folder to fix (exit 2), not a bug
            server.server.server_close()
            raise UsageError(f"--token-file: cannot write {tokens}: {error.strerror or error}") from None
        ignored = keep_out_of_git(tokens)
        info = {"url": server.url, "api_url": server.api_url, "token_file": str(tokens),
                "bot_token_file": str(bot_token)}
        if fmt is Format.JSON:
            console.out(json.dumps(info))
        else:
            console.out(f"OpenMetadata sandbox listening on {server.api_url}")
            console.out(f"tokens (mlmeta-bot, admin) written to {tokens}"
                        + (f" (listed in {ignored}, so git ignores them)" if ignored else ""))
            console.out("point mlmeta at it:")
            console.out(f"  export OPENMETADATA_HOST={server.url} OPENMETADATA_JWT_TOKEN_FILE={bot_token}")
        if ready_file:  # replaced whole, never through a symlink: a reader sees no half-written file
            from mlmeta.state import replace_file

            try:
                replace_file(ready_file, json.dumps(info).encode("utf-8"), durable=False)
            except OSError as error:
                server.server.server_close()
                raise UsageError(f"--ready-file: cannot write {ready_file}: {error.strerror or error}") from None
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server.server_close()
        return 0

    _exit(run("sandbox", fmt, body))


COMPLETE_VAR = "_MLMETA_COMPLETE"  # set by the shell's completion script when it asks for completions


class Shell(str, enum.Enum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"
    POWERSHELL = "powershell"


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")]) -> None:
    """Print the shell completion script. Install it with, e.g.:
    mlmeta completion bash > ~/.local/share/bash-completion/completions/mlmeta
    (zsh: into a folder of $fpath as _mlmeta; fish: ~/.config/fish/completions/mlmeta.fish)."""
    from typer._completion_shared import get_completion_script

    from mlmeta.output import console

    # shell= names the shell the script completes for (bash, zsh ...); nothing runs a shell (B604)
    script = get_completion_script(prog_name="mlmeta", complete_var=COMPLETE_VAR, shell=shell.value)  # nosec B604
    console.out(script, end="")


def main() -> None:
    if COMPLETE_VAR in os.environ:  # the shell asks for completions: only then is typer's machinery loaded
        from typer._completion_classes import completion_init

        completion_init()
    app(prog_name="mlmeta")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
