"""The long-running commands: ``mlmeta watch`` (poll the registry) and ``mlmeta webhook serve`` /
``webhook work`` (receive the registry's webhooks, act on them) - their options and their log."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.cli.application import finish
from mlmeta.cli.options import (Connection, CreateServiceOption, FormatOption, PathsArgument, SelectOption,
                                SinkOption, VerboseOption, spool_option)
from mlmeta.output import Format

WEBHOOK_SPOOL = "webhook-spool.jsonl"  # in the receiver's --state-dir (mlmeta.triggers.service uses the same)
WATCH_CHECKPOINT = ".mlmeta/watch-checkpoint.json"
SPOOL_BESIDE = "-spool.jsonl"  # watch's spool: the checkpoint's name with this instead of .json
DEFAULT_GROUP = "mlmeta-webhook-workers"

WatchSpoolOption = spool_option(f"beside the checkpoint and named after it: {WATCH_CHECKPOINT[:-len('.json')]}"
                                f"{SPOOL_BESIDE} for the default one")
WebhookSpoolOption = spool_option(f"{WEBHOOK_SPOOL} in the --state-dir, .mlmeta/{WEBHOOK_SPOOL} for the default one")


class LogFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


LogFormatOption = Annotated[LogFormat, typer.Option(
    "--log-format", help="The service's log on stderr: lines of text, or one JSON object per line (time, level, "
                         "logger, message) for a log collector.")]
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


def service_log(log_format: LogFormat, fmt: Format, logger: str):
    """Where a long-running command says what it does: JSON lines for a log collector, else text
    lines on stderr (each a JSON ``{"progress": ...}`` with --format json)."""
    import json

    from mlmeta.output import console, logs

    def say(line: str) -> None:
        if log_format is LogFormat.JSON:
            console.err(logs.json_line("info", logger, line))
        elif fmt is Format.JSON:
            console.err(json.dumps({"progress": line}))
        else:
            console.err(line)

    return say


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
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Poll the registry (MLflow, or Kubeflow Model Registry); publish what reaches Production; emit one event per
    promotion."""

    def body() -> int:
        from mlmeta.cli.arguments import beside_project, check_watched_paths, require, selectors, spec_files
        from mlmeta.cli.publish import event_emitter
        from mlmeta.config import load_settings
        from mlmeta.triggers.watch import WatchOptions, run_watch

        require("--interval", interval, interval > 0, "must be more than 0 seconds")
        require("--jitter", jitter, 0 <= jitter < 1, "a share of the interval, from 0 up to (not including) 1")
        require("--max-backoff", max_backoff, max_backoff >= interval, f"must be at least --interval ({interval:g})")
        chosen = selectors(select)
        settings = load_settings(connection.overrides())
        if chosen:  # said once, on the specs as they are now; each pass selects again from its own reading
            from mlmeta.errors import UsageError

            if all_models:
                raise UsageError("--select chooses among the specs, --all-models watches every registered model: "
                                 "use one of them")
            spec_files(paths, None, settings, select, "watch")
        check_watched_paths(paths, settings)  # before anything is made on disk
        kept = checkpoint or beside_project(settings, WATCH_CHECKPOINT)
        options = WatchOptions(checkpoint=kept, interval=interval, jitter=jitter, max_backoff=max_backoff, once=once,
                               all_models=all_models, paths=list(paths) if paths else None, select=chosen,
                               create_service=create_service)
        return run_watch(settings, options,
                         lambda: event_emitter(sink, spool or kept.with_name(kept.stem + SPOOL_BESIDE), settings, "-"),
                         service_log(log_format, fmt, "mlmeta.watch"))

    finish("watch", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON)


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
    connection: Connection = Connection(),
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
            ready_file=ready_file, create_service=create_service, overrides=connection.overrides())
        return service.serve(command, service_log(log_format, fmt, "mlmeta.webhook"))

    finish("webhook serve", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON)


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
    connection: Connection = Connection(),
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
            overrides=connection.overrides())
        return service.work(command, service_log(log_format, fmt, "mlmeta.work"))

    finish("webhook work", fmt, body, verbose=verbose, json_logs=log_format is LogFormat.JSON)
