"""Option groups: a command takes one parameter for options several commands share; typer sees
the group's options in its place, and the command gets them back as one group."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.testing import CliRunner

from mlmeta.cli.options import CatalogConnection, Connection, with_groups


def command_with_a_group(
    first: Annotated[str, typer.Option("--first")] = "a",
    connection: Connection = Connection(),
    last: Annotated[bool, typer.Option("--last")] = False,
) -> None:
    typer.echo(repr((first, connection, last)))


def test_the_group_options_stand_where_the_group_parameter_stood_and_come_back_as_the_group():
    app = typer.Typer()
    app.command()(with_groups(command_with_a_group))
    app.command("other")(lambda: None)  # two commands, so the first is called by its name
    help_text = CliRunner().invoke(app, ["command-with-a-group", "--help"], terminal_width=200).output
    order = [help_text.index(flag) for flag in ("--first", "--host", "--token-file", "--mlflow-uri", "--ca-bundle",
                                                "--timeout", "--deadline", "--last")]
    assert order == sorted(order), help_text

    result = CliRunner().invoke(app, ["command-with-a-group", "--host", "http://om", "--timeout", "5", "--last"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(("a", Connection(host="http://om", timeout=5.0), True))


def test_a_group_says_only_the_settings_given_and_the_timing_alone():
    given = CatalogConnection(host="http://om", deadline=9.0)
    assert {key: value for key, value in given.overrides(concurrency=3).items() if value is not None} == {
        "openmetadata_host": "http://om", "deadline": 9.0, "concurrency": 3}
    assert "mlflow_tracking_uri" not in given.overrides()  # this group has no --mlflow-uri
    assert Connection(mlflow_uri="http://r", timeout=2.0).timing() == {"timeout": 2.0, "deadline": None}


def test_a_command_without_a_group_is_left_as_it_is():
    def plain(name: Annotated[str, typer.Option("--name")] = "x") -> None:
        pass

    assert with_groups(plain) is plain
