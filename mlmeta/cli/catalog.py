"""The commands that read or own the catalog's models beside publish: ``drift``, ``setup``,
``pull``, ``adopt`` and ``import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.cli.application import finish
from mlmeta.cli.arguments import refuse_overwrite, schema_ref as schema_ref_for, spec_files
from mlmeta.cli.options import (CatalogConnection, ChangedSinceOption, Connection, FormatOption, PathsArgument,
                                RegisteredModelOption, SchemaRefOption, SelectOption, VerboseOption)
from mlmeta.output import Format


def drift(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Compare the catalog with the specs and the registry; report every difference. Writes nothing."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.commands.drift import detect
        from mlmeta.output import render_drift

        settings = load_settings(connection.overrides())
        files = spec_files(paths, changed_since, settings, select, "drift")
        report = detect(files, settings, registered_model=registered_model,
                        complete=not (paths or changed_since or select))  # a selection is no complete set
        render_drift(report, fmt)
        return report.exit_code

    finish("drift", fmt, body, verbose=verbose)


def setup(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be defined, define nothing.")] = False,
    connection: CatalogConnection = CatalogConnection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Define mlmeta's provenance custom properties on OpenMetadata's mlmodel type (idempotent)."""

    def body() -> int:
        from mlmeta.catalog.openmetadata import OpenMetadataCatalog
        from mlmeta.config import load_settings
        from mlmeta.output import render_setup
        from mlmeta.catalog.provenance import set_up

        settings = load_settings(connection.overrides())
        steps = set_up(OpenMetadataCatalog(settings), dry_run=dry_run)
        render_setup(steps, dry_run, fmt)
        return 1 if any(step.status in ("conflict", "failed") for step in steps) else 0

    finish("setup", fmt, body, verbose=verbose)


def pull(
    paths: PathsArgument = None,
    changed_since: ChangedSinceOption = None,
    registered_model: RegisteredModelOption = None,
    select: SelectOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, write nothing.")] = False,
    connection: CatalogConnection = CatalogConnection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write descriptions improved in the catalog back into the specs (comments and layout kept)."""

    def body() -> int:
        from mlmeta.config import load_settings
        from mlmeta.output import render_validation
        from mlmeta.output.reports import render_pull
        from mlmeta.commands.pull import pull as pull_texts
        from mlmeta.commands.validate import ValidationReport

        settings = load_settings(connection.overrides())
        report = pull_texts(spec_files(paths, changed_since, settings, select, "pull"), settings, dry_run=dry_run,
                            registered_model=registered_model)
        if report.invalid and fmt is not Format.JSON:
            render_validation(ValidationReport(report.invalid), fmt)
        render_pull(report, dry_run, fmt)
        return report.exit_code

    finish("pull", fmt, body, verbose=verbose)


def adopt(
    models: Annotated[list[str], typer.Argument(metavar="FQN", help="The models to adopt, e.g. "
                                                                       "mlflow_models.churn.", show_default=False)],
    from_project: Annotated[Optional[str], typer.Option(
        "--from", metavar="PROJECT", help="Take over models this other project owns (its name, as the models "
                                          "record it).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be adopted, write nothing.")] = False,
    connection: CatalogConnection = CatalogConnection(),
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
        from mlmeta.output.reports import render_adopt

        for model in models:
            model_name(model)  # a mistyped FQN stops the command before anything is read (exit 2)
        settings = load_settings(connection.overrides())
        project = ownership.identify(settings)
        done = adopt_models(OpenMetadataCatalog(settings), models, project.name, handover_from=from_project,
                            dry_run=dry_run)
        render_adopt(done, project, dry_run, fmt)
        return 1 if any(a.status in ("refused", "failed") for a in done) else 0

    finish("adopt", fmt, body, verbose=verbose)


def import_(
    models: Annotated[list[str], typer.Argument(metavar="FQN", help="The catalog's models to write specs for, "
                                                                       "e.g. mlflow_models.churn.",
                                                show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the spec here (one model; refuses "
                                                                          "to overwrite). Default: the first spec "
                                                                          "folder, named after the model.")] = None,
    schema_ref: SchemaRefOption = None,
    connection: Connection = Connection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Write a spec from a model already in the catalog (published from elsewhere, or ingested by OpenMetadata's
    MLflow connector); its next publish makes it this project's."""

    def body() -> int:
        from mlmeta.commands.catalog_import import import_models
        from mlmeta.config import load_settings
        from mlmeta.errors import UsageError
        from mlmeta.output.reports import render_import

        if output is not None and len(models) > 1:
            raise UsageError("-o names one file: import one model with -o, or leave it out to write each under the "
                             "spec folder")
        refuse_overwrite(output, "import")
        settings = load_settings(connection.overrides())
        done = import_models(models, settings, output=output,
                             schema_ref=schema_ref_for(schema_ref, output, settings))
        render_import(done, fmt)
        return 1 if any(i.status != "written" for i in done) else 0

    finish("import", fmt, body, verbose=verbose)
