"""``mlmeta sandbox``: a local stand-in of the OpenMetadata REST API, served until interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.catalog.releases import supported_range
from mlmeta.cli.application import finish
from mlmeta.cli.options import FormatOption
from mlmeta.output import Format


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
        metavar="X.Y.Z", help=f"The OpenMetadata release to play, {supported_range()}: its version, its own schemas "
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
        import signal

        from mlmeta.errors import UsageError
        from mlmeta.output import console
        from mlmeta.standins.openmetadata import Sandbox

        faults = _faults(port, latency_ms, jitter_ms, failure_rate, failure_status, drop_rate)
        release, quirks = _sandbox_release(server_version, quirk or [])
        try:
            server = Sandbox(host=host, port=port, catalog=catalog, state_file=state, secret=secret,
                             server_version=release, faults=faults, quirks=quirks, progress=console.err)
        except OSError as error:
            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        server.warm_up()  # load the release's schemas (seconds) before saying we are ready
        # a stop may come as soon as the ready file exists: the handler is in place before it is written
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            _announce(server, token_file, ready_file, fmt)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server.server_close()
        return 0

    finish("sandbox", fmt, body)


def _announce(server, token_file: Optional[Path], ready_file: Optional[Path], fmt) -> None:
    """Write the tokens, say where the sandbox listens, and write the ready file (replaced whole,
    never through a symlink: a reader sees no half-written file)."""
    import json

    from mlmeta.errors import UsageError
    from mlmeta.output.reports import render_sandbox_ready
    from mlmeta.standins.openmetadata.tokens import default_token_file, keep_out_of_git
    from mlmeta.state import replace_file

    tokens = token_file or default_token_file()
    try:
        bot_token = server.write_tokens(tokens)["mlmeta-bot"]
    except OSError as error:  # the user's folder to fix (exit 2), not a bug
        raise UsageError(f"--token-file: cannot write {tokens}: {error.strerror or error}") from None
    ignored = keep_out_of_git(tokens)
    info = {"url": server.url, "api_url": server.api_url, "token_file": str(tokens), "bot_token_file": str(bot_token)}
    render_sandbox_ready(info, ignored, fmt)
    if ready_file:
        try:
            replace_file(ready_file, json.dumps(info).encode("utf-8"), durable=False)
        except OSError as error:
            raise UsageError(f"--ready-file: cannot write {ready_file}: {error.strerror or error}") from None


def _faults(port: int, latency_ms: float, jitter_ms: float, failure_rate: float,
            failure_status: Optional[list[int]], drop_rate: float):
    """The port and the faults asked for, checked before anything starts (exit 2 naming the option)."""
    from mlmeta.cli.arguments import require, require_port
    from mlmeta.errors import UsageError
    from mlmeta.standins.openmetadata import FaultSettings
    from mlmeta.standins.openmetadata.faults import ALLOWED_STATUSES

    require_port(port)
    for option, value in (("--latency-ms", latency_ms), ("--jitter-ms", jitter_ms)):
        require(option, value, value >= 0, "cannot be negative")
    for option, value in (("--failure-rate", failure_rate), ("--drop-rate", drop_rate)):
        require(option, value, 0 <= value <= 1, "a share of the requests, between 0 and 1")
    for status in failure_status or []:
        require("--failure-status", status, status in ALLOWED_STATUSES,
                f"one of {', '.join(map(str, ALLOWED_STATUSES))}")
    try:
        faults = FaultSettings(latency_ms=latency_ms, jitter_ms=jitter_ms, failure_rate=failure_rate,
                               statuses=failure_status or [503], drop_rate=drop_rate)
        faults.check()
    except ValueError as error:
        raise UsageError(f"fault settings: {error}") from None
    return faults


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
