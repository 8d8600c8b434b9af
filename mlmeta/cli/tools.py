"""The commands around the specs that publish nothing: ``doctor``, ``card``, ``explain``, ``graph``,
``schema``, ``convert`` and ``completion``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.cli.application import COMPLETE_VAR, finish
from mlmeta.cli.arguments import spec_files
from mlmeta.cli.options import (ChangedSinceOption, Connection, FormatOption, PathsArgument, RegistryConnection,
                                SchemaRefOption, SelectOption, VerboseOption)
from mlmeta.output import Format


def doctor(
    connection: Connection = Connection(),
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
        from mlmeta.commands import doctor as checks
        from mlmeta.config import load_settings
        from mlmeta.output import console
        from mlmeta.output.reports import render_doctor, render_write_test

        settings = checks.quick(load_settings(connection.overrides()))
        if write_test:
            from mlmeta.commands import doctor_write_test as selftest

            tested = selftest.run(settings, say=console.err)
            render_write_test(tested, fmt)
            return tested.exit_code
        report = checks.run(settings)
        render_doctor(report, fmt)
        return report.exit_code

    finish("doctor", fmt, body, verbose=verbose)


def card(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC", help="The spec to export.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the card here (e.g. README.md "
                                                                          "of a Hugging Face repository).")] = None,
    connection: RegistryConnection = RegistryConnection(),
    verbose: VerboseOption = False,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Export a spec as a Hugging Face style model card: metadata with the Production version's metrics as
    model-index results, then the card's sections, the features and the provenance."""

    def body() -> int:
        from mlmeta.commands import card as model_card
        from mlmeta.commands.validate import validate_files
        from mlmeta.config import load_settings
        from mlmeta.errors import UsageError
        from mlmeta.output import render_validation
        from mlmeta.output.files import deliver
        from mlmeta.output.reports import render_notes

        settings = load_settings(connection.overrides())
        if not spec_path.is_file():
            raise UsageError(f"{spec_path}: no such spec file")
        report = validate_files([spec_path], default_service=settings.service, policy=settings.card_policy)
        if report.exit_code:
            render_validation(report, fmt)
            return report.exit_code
        [loaded] = report.specs()
        exported = model_card.export(loaded, settings)
        text = model_card.markdown(exported)
        if exported.no_results:
            render_notes("card", [f"the card has no results: {exported.no_results}"])
        deliver(text, output, fmt, {"command": "card", **exported.as_dict(), "markdown": text})
        return 0

    finish("card", fmt, body, verbose=verbose)


def explain(
    code: Annotated[Optional[str], typer.Argument(metavar="CODE", help="A finding code, such as R002 (any case; "
                                                                        "without one, every code is listed).",
                                                  show_default=False)] = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Say what a finding code means, why it happens and how to fix it, with an example."""

    def body() -> int:
        from mlmeta import explanations
        from mlmeta.output.reports import render_explanation

        render_explanation(explanations.listing() if code is None else explanations.explain(explanations.known(code)),
                           fmt)
        return 0

    finish("explain", fmt, body)


class GraphFormat(str, enum.Enum):
    MERMAID = "mermaid"
    DOT = "dot"
    JSON = "json"


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
    report_format = Format.JSON if fmt is GraphFormat.JSON else Format.TEXT

    def body() -> int:
        from mlmeta.commands import graph as lineage_graph
        from mlmeta.commands.validate import validate_files
        from mlmeta.config import load_settings
        from mlmeta.output import render_validation
        from mlmeta.output.reports import render_graphs
        from mlmeta.plan.desired import model_fqn

        settings = load_settings({})
        report = validate_files(spec_files(paths, changed_since, settings, select, "graph"),
                                default_service=settings.service, policy=settings.card_policy)
        if report.exit_code:
            render_validation(report, report_format)
            return report.exit_code
        render_graphs([lineage_graph.build(s.spec, model_fqn(s.spec, settings.service)) for s in report.specs()],
                      fmt.value)
        return 0

    finish("graph", report_format, body, verbose=verbose)


def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="The schema is JSON in every format.",
                                        case_sensitive=False)] = Format.JSON,
) -> None:
    """Print the spec's JSON Schema (draft-07, for editors and check-jsonschema)."""

    def body() -> int:
        from mlmeta.output import console
        from mlmeta.output.files import write_output
        from mlmeta.spec.schema import json_schema_text

        text = json_schema_text()
        if output:
            write_output(output, text, overwrite=True)
        else:
            console.out(text, end="")
        return 0

    finish("schema", fmt, body)


def convert(
    file: Annotated[Path, typer.Argument(help="A spec in OpenMetadata's ML-model CI/CD demo format (or v1).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the v1 spec here (refuses to "
                                                                          "overwrite).")] = None,
    schema_ref: SchemaRefOption = None,
    fmt: FormatOption = Format.TEXT,
) -> None:
    """Rewrite a demo-format ML model YAML as a v1 spec (stdout, or --output)."""

    def body() -> int:
        from mlmeta.cli.arguments import refuse_overwrite, schema_ref as schema_ref_for
        from mlmeta.commands.validate import validate_files
        from mlmeta.config import load_settings
        from mlmeta.output import jsonfmt, render_validation
        from mlmeta.output.files import deliver
        from mlmeta.spec.convert import to_v1_yaml, v1_data
        from mlmeta.spec.discovery import find_spec_files

        find_spec_files([file])  # a missing file is a usage error (exit 2), as for every command
        refuse_overwrite(output, "convert")
        report = validate_files([file])
        if report.exit_code:
            render_validation(report, fmt)
            return report.exit_code
        loaded = report.specs()[0]
        if fmt is Format.JSON:
            jsonfmt.dump({"command": "convert", "source_format": loaded.format, "spec": v1_data(loaded)})
            return 0
        deliver(to_v1_yaml(loaded, schema_ref_for(schema_ref, output, load_settings())), output, fmt, {},
                overwrite=False)
        return 0

    finish("convert", fmt, body)


class Shell(str, enum.Enum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"
    POWERSHELL = "powershell"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")]) -> None:
    """Print the shell completion script. Install it with, e.g.:
    mlmeta completion bash > ~/.local/share/bash-completion/completions/mlmeta
    (zsh: into a folder of $fpath as _mlmeta; fish: ~/.config/fish/completions/mlmeta.fish)."""
    from typer._completion_shared import get_completion_script

    from mlmeta.output import console

    # shell= names the shell the script completes for (bash, zsh ...); nothing runs a shell (B604)
    script = get_completion_script(prog_name="mlmeta", complete_var=COMPLETE_VAR, shell=shell.value)  # nosec B604
    console.out(script, end="")
