"""The command line itself: an option value that cannot work stops the command at once, exit 2,
naming the option - never a crash, never a server that cannot serve; every flag a message, a hint
or a help names exists; help says what a command really does and which files it really uses."""

from __future__ import annotations

import ast
import json
import re
import typing
from collections.abc import Callable
from typing import Any

import pytest
import typer

from mlmeta.cli import app
from mlmeta.config import load_settings
from tests.helpers.files import GOOD_SPEC, REPO, write

# what a command needs besides the option under test to get as far as checking it
REQUIRED = {("publish",): ["--all"], ("init",): ["--from-mlflow", "some_model"], ("card",): ["spec.yaml"],
            ("webhook", "work"): ["--queue", "kafka://127.0.0.1:9/deliveries"], ("adopt",): ["svc.model"],
            ("import",): ["svc.model"]}


def commands(typer_app: typer.Typer = app, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Callable]]:
    """(command path, function) of every command, sub-commands included."""
    found = [(path + (info.name or info.callback.__name__,), info.callback) for info in typer_app.registered_commands]
    for group in typer_app.registered_groups:
        found += commands(group.typer_instance, path + (group.name,))
    return found


def options(function: Callable) -> list[tuple[str, Any]]:
    """(option, its value's type) of a command's options."""
    found = []
    for name, hint in typing.get_type_hints(function, include_extras=True).items():
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        kind, info = typing.get_args(hint)[:2]
        if isinstance(info, typer.models.OptionInfo):
            declared = [d for d in (info.default, *info.param_decls) if isinstance(d, str) and d.startswith("--")]
            found.append(((declared or ["--" + name.replace("_", "-")])[0], kind))
    return found


def _numeric(kind: Any) -> bool:
    return kind in (int, float) or any(_numeric(arg) for arg in typing.get_args(kind))


def numeric_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) for every int and float option of every command."""
    return [(path, option) for path, function in commands() for option, kind in options(function) if _numeric(kind)]


def test_every_command_has_numeric_options_to_check():
    found = numeric_options()
    assert (("webhook", "serve"), "--queue-size") in found and (("sandbox",), "--port") in found
    assert {path for path, _ in found} >= {("validate",), ("plan",), ("publish",), ("drift",), ("pull",), ("setup",),
                                             ("watch",), ("webhook", "serve"), ("init",), ("sandbox",)}


@pytest.mark.parametrize(("path", "option"), numeric_options(), ids=lambda v: " ".join(v) if isinstance(v, tuple)
                         else v)
def test_a_negative_value_of_any_numeric_option_is_a_usage_error_naming_it(cli, in_tmp, path, option):
    result = cli(*path, *REQUIRED.get(path, []), option, "-1", env={"MLMETA_WEBHOOK_SECRET": "s3cret"})
    assert result.exit_code == 2, result.output + result.stderr
    assert option in result.stderr


@pytest.mark.parametrize(("args", "option"), [
    (["webhook", "serve", "--port", "99999"], "--port"), (["webhook", "serve", "--port", "-1"], "--port"),
    (["sandbox", "--port", "99999"], "--port"), (["webhook", "serve", "--path", "hook"], "--path"),
    (["webhook", "serve", "--queue-size", "0"], "--queue-size"), (["webhook", "serve", "--max-age", "0"], "--max-age"),
    (["sandbox", "--failure-rate", "1.5"], "--failure-rate"),
    (["sandbox", "--failure-status", "404"], "--failure-status"),
    (["watch", "--jitter", "1"], "--jitter"), (["watch", "--interval", "0"], "--interval"),
    (["watch", "--interval", "60", "--max-backoff", "30"], "--max-backoff"),
    (["plan", "--concurrency", "65"], "--concurrency"), (["validate", "--timeout", "0"], "--timeout")])
def test_values_that_cannot_work_are_refused_before_anything_starts(cli, in_tmp, args, option):
    result = cli(*args, env={"MLMETA_WEBHOOK_SECRET": "s3cret"})
    assert result.exit_code == 2, result.output + result.stderr
    assert f"error: {option}" in result.stderr and "Traceback" not in result.stderr


# flags of other programs mlmeta runs (git; pip, which fetches the sandbox's schemas), and Jetty's
# --gzip mark on an ETag: not mlmeta's own
OTHER_PROGRAMS = {"--diff-filter", "--name-only", "--no-renames", "--no-deps", "--only-binary", "--quiet",
                  "--disable-pip-version-check", "--gzip", "--is-shallow-repository", "--unshallow",
                  "--token"}  # python -m mlmeta.standins.kubeflow


def every_option() -> set[str]:
    """Every option name, second names too (``--from-registry``/``--from-mlflow``)."""
    names = {"--help", "--version"}
    for _, function in commands():
        for hint in typing.get_type_hints(function, include_extras=True).values():
            info = typing.get_args(hint)[1] if typing.get_origin(hint) is typing.Annotated else None
            if isinstance(info, typer.models.OptionInfo):
                names |= {d for d in (info.default, *info.param_decls) if isinstance(d, str) and d.startswith("--")}
        names |= {option for option, _ in options(function)}
    return names


def test_every_flag_a_message_or_a_hint_names_exists():
    """The flags written in mlmeta's strings (messages, hints, help); demo/ runs other programs."""
    named: dict[str, set[str]] = {}
    package = REPO / "mlmeta"
    for path in package.rglob("*.py"):
        if path.is_relative_to(package / "demo"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", node.value):
                    named.setdefault(flag, set()).add(str(path.relative_to(REPO)))
    unknown = {flag: files for flag, files in named.items() if flag not in every_option() | OTHER_PROGRAMS}
    assert unknown == {}


def test_a_setting_given_as_a_flag_is_named_by_that_flag(in_tmp):
    given = {"openmetadata_host": "http://127.0.0.1:2", "mlflow_tracking_uri": "http://127.0.0.1:3",
             "token_file": None, "ca_bundle": in_tmp, "timeout": 5.0, "deadline": 10.0, "concurrency": 2}
    settings = load_settings(given)
    named = {key: settings.where(key) for key, value in given.items() if value is not None}
    assert named["openmetadata_host"] == "--host" and named["mlflow_tracking_uri"] == "--mlflow-uri"
    assert set(named.values()) <= every_option()


def test_a_refused_flag_is_named_as_it_was_given(cli, in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", GOOD_SPEC)
    refused = cli("plan", "--host", "http://127.0.0.1:2", env={"OPENMETADATA_JWT_TOKEN": "t"})
    assert refused.exit_code == 2 and "check --host" in refused.stderr, refused.stderr
    refused = cli("init", "--from-mlflow", "churn", "--mlflow-uri", "http://127.0.0.1:2")
    assert refused.exit_code == 2 and "check --mlflow-uri" in refused.stderr, refused.stderr


def help_text(cli, *command: str) -> str:
    """A command's --help as one line (the terminal's wrapping undone)."""
    return re.sub(r"\s+", " ", re.sub(r"-\n\s+", "-", cli(*command, "--help").stdout))


def test_the_spool_defaults_the_help_gives_are_the_files_used(cli):
    # publish's is where tests/events/test_sinks.py finds its spooled event
    assert "(default: .mlmeta/events-spool.jsonl)" in help_text(cli, "publish")
    assert "webhook-spool.jsonl in the --state-dir, .mlmeta/webhook-spool.jsonl for the default one" in help_text(
        cli, "webhook", "serve")
    watch = help_text(cli, "watch")
    assert "beside the checkpoint and named after it: .mlmeta/watch-checkpoint-spool.jsonl" in watch
    assert ("(kept across restarts); default .mlmeta/watch-checkpoint.json beside the project file (mlmeta.toml, "
            "pyproject.toml), else in the working directory." in watch)


@pytest.mark.parametrize("command", [["publish", "--all"], ["plan"], ["drift"], ["pull"]])
def test_a_registered_model_no_spec_documents_is_a_warning_in_every_format(cli, in_tmp, command):
    write(in_tmp / "model_specs" / "churn.yaml", GOOD_SPEC)
    said = "--registered-model churm: no spec documents this registered model"
    text = cli(*command, "--registered-model", "churm")
    assert text.exit_code == 0 and f"warning: {said}" in text.stdout and "did you mean 'churn'?" in text.stdout
    document = json.loads(cli(*command, "--registered-model", "churm", "--format", "json").stdout)
    assert document["warnings"][0].startswith(said)
    github = cli(*command, "--registered-model", "churm", "--format", "github")
    assert f"::warning title=mlmeta {command[0]}::{said}" in github.stdout


def test_plans_help_says_what_it_shows_never_what_it_would_write(cli):
    plan = help_text(cli, "plan")
    assert "--prune Also show the models mlmeta published whose spec is gone" in plan and "soft-delete the" not in plan
    assert "--create-service Plan a missing ML model service as publish --create-service would create it" in plan


def test_no_command_declares_a_name_twice():
    """webhook serve once had --host twice (the address to bind, and OpenMetadata's URL): the second
    won, so the README's service line bound 127.0.0.1 and sent OpenMetadata's requests to 0.0.0.0."""
    for path, function in commands():
        names = [name for hint in typing.get_type_hints(function, include_extras=True).values()
                 if typing.get_origin(hint) is typing.Annotated
                 and isinstance(info := typing.get_args(hint)[1], typer.models.OptionInfo)
                 for name in (info.default, *info.param_decls) if isinstance(name, str) and name.startswith("-")]
        twice = sorted({name for name in names if names.count(name) > 1})
        assert not twice, f"mlmeta {' '.join(path)} declares {', '.join(twice)} more than once"


def test_webhook_serve_binds_with_bind_and_reaches_openmetadata_with_host():
    [serve] = [function for path, function in commands() if path == ("webhook", "serve")]
    declared = {option for option, _ in options(serve)}
    assert {"--bind", "--port", "--host", "--state-dir", "--reconcile-interval", "--log-format"} <= declared

