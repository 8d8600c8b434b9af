"""``mlmeta validate``: check specs offline, and with --online against both servers (reads only)."""

from __future__ import annotations

from typing import Annotated

import typer

from mlmeta.cli.application import finish
from mlmeta.cli.arguments import spec_files
from mlmeta.cli.options import (ChangedSinceOption, Connection, FormatOption, PathsArgument, SelectOption,
                                StrictOption, VerboseOption)
from mlmeta.output import Format


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
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
) -> None:
    """Check specs: YAML, schema, names and FQNs (offline), with file:line:col for every finding."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.output import render_validation
        from mlmeta.commands.validate import validate_files

        # the timing options are checked offline too
        settings = load_settings(connection.overrides() if online else connection.timing())
        report = validate_files(spec_files(paths, changed_since, settings, select, "validate"),
                                default_service=settings.service, strict=strict, service_required=True,
                                policy=settings.card_policy)
        if online:
            from mlmeta.commands.validate_online import check_online

            check_online(report, settings, strict=strict, create_service=create_service)
        render_validation(report, fmt)
        return report.exit_code

    finish("validate", fmt, body, verbose=verbose)
