"""Files a command was asked to write (``--output``): written whole or not at all, never through a
symlink, and a generated file delivered to its file, stdout, or a JSON document."""

from __future__ import annotations

import json
from pathlib import Path

from mlmeta.output import Format, console


def deliver(text: str, output: Path | None, fmt: Format, document: dict, next_step: str | None = None,
            *, overwrite: bool = True) -> None:
    """A generated file: written to ``output`` (the path said on stderr), and on stdout as text, or as
    the JSON ``document`` with ``--format json``."""
    if output is not None:
        write_output(output, text, overwrite=overwrite)
        console.err(f"wrote {output}" + (f": {next_step}" if next_step else ""))
    if fmt is Format.JSON:
        console.out(json.dumps({"version": 1, **document}, indent=2, ensure_ascii=False))
    elif output is None:
        console.out(text, end="")


def write_output(output: Path, text: str, *, overwrite: bool) -> None:
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
