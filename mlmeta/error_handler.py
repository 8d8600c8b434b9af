"""The one place where errors become messages and exit codes (see ``mlmeta.errors``)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable

from mlmeta.errors import ExitCode, MlmetaError
from mlmeta.output import Format, console


def run(command: str, fmt: Format, body: Callable[[], int], *, verbose: bool = False,
        json_logs: bool = False) -> int:
    """Run a command body and return its exit code; expected errors never show a traceback.
    ``json_logs``: a service's log is JSON lines, its last words too."""
    from mlmeta.output import logs

    logs.configure(verbose, json_lines=json_logs)
    try:
        return int(body())
    except MlmetaError as error:
        if json_logs:
            console.err(logs.json_line("error", f"mlmeta.{command.replace(' ', '.')}",
                                       str(error) + (f" (hint: {error.hint})" if error.hint else "")))
            return int(error.exit_code)
        _report(command, fmt, str(error), error.hint, int(error.exit_code))
        return int(error.exit_code)
    except KeyboardInterrupt:
        console.err("mlmeta: interrupted")
        return 130
    except Exception as error:  # a bug: say so plainly, traceback only on request
        if os.environ.get("MLMETA_DEBUG"):
            console.err(traceback.format_exc())
        _report(command, fmt, f"internal error: {type(error).__name__}: {error}",
                "this is a bug in mlmeta; rerun with MLMETA_DEBUG=1 for the traceback and report it",
                int(ExitCode.INTERNAL))
        return int(ExitCode.INTERNAL)


def _report(command: str, fmt: Format, message: str, hint: str | None, code: int) -> None:
    if fmt is Format.JSON:
        from mlmeta.output import jsonfmt

        jsonfmt.dump({"command": command, "error": {"message": message, "hint": hint, "exit_code": code}})
    elif fmt is Format.GITHUB:
        from mlmeta.output import github

        console.out(f"::error title=mlmeta {command}::{github.escape_data(message)}")
    console.err(f"mlmeta {command}: error: {message}")
    if hint:
        console.err(f"  hint: {hint}")
