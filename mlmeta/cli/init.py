"""``mlmeta init``: a starter spec from a registered model in the project's registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.cli.application import finish
from mlmeta.cli.options import Connection, FormatOption, SchemaRefOption, VerboseOption
from mlmeta.output import Format


def init(
    from_registry: Annotated[str, typer.Option("--from-registry", "--from-mlflow", metavar="MODEL",
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
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write a starter spec from a registered model: features from its signature, sources from the catalog's columns
    of the assets its logged training datasets map to, the algorithm and hyperparameters from its run."""

    def body() -> int:
        from mlmeta.cli.arguments import refuse_overwrite, schema_ref as schema_ref_for
        from mlmeta.commands.init import start
        from mlmeta.config import load_settings
        from mlmeta.errors import UsageError
        from mlmeta.output.files import deliver
        from mlmeta.output.reports import render_notes
        from mlmeta.spec.model import STAGES

        refuse_overwrite(output, "init")
        if stage not in (None, *STAGES):
            raise UsageError(f"--stage {stage}: a spec accepts {' or '.join(STAGES)}")
        settings = load_settings(connection.overrides())
        starter = start(from_registry, settings, alias=alias, stage=stage, service=service,
                        schema_ref=schema_ref_for(schema_ref, output, settings))
        if fmt is not Format.JSON:  # the JSON document carries them
            render_notes("init", starter.notes)
        deliver(starter.text, output, fmt, {"command": "init", "spec": starter.text, "output": str(output or ""),
                                            "notes": starter.notes}, starter.next_step, overwrite=False)
        return 0

    finish("init", fmt, body, verbose=verbose)
