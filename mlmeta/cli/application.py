"""The typer app itself: its name and help, ``--version``, ``main`` (the console script), and
``finish``, which runs a command's body to its exit code.

Cheap to import on purpose: ``mlmeta --version`` and ``--help`` load this, the option groups and
the command modules, none of which imports a core, pydantic, the OpenMetadata SDK or mlflow at
the top - each command imports what it needs when it runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from mlmeta import __version__
from mlmeta.error_handler import run
from mlmeta.output import Format

COMPLETE_VAR = "_MLMETA_COMPLETE"  # set by the shell's completion script when it asks for completions

app = typer.Typer(
    name="mlmeta",
    help="ML model documentation as code: validate specs, enrich them from MLflow, publish them to OpenMetadata.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def finish(command: str, fmt: Format, body: Callable[[], int], *, verbose: bool = False,
           json_logs: bool = False) -> NoReturn:
    """Run a command's body - its expected errors said as one message with their exit code
    (``error_handler.run``) - and exit with the code it returned."""
    raise typer.Exit(run(command, fmt, body, verbose=verbose, json_logs=json_logs))


def main() -> None:
    if COMPLETE_VAR in os.environ:  # the shell asks for completions: only then is typer's machinery loaded
        from typer._completion_classes import completion_init

        completion_init()
    app(prog_name="mlmeta")
