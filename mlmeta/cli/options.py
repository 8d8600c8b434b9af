"""The options several commands share, each declared once: typer ``Annotated`` aliases, and the
option groups a command takes as one parameter (``Connection`` and its narrower kin).

A group is a dataclass whose fields are options. ``with_groups`` shows typer a command with each
group parameter replaced, in its place, by the group's options (so ``--help`` lists them where
they always were), and gathers what was given back into the group before the command runs.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlmeta.output import Format

FormatOption = Annotated[Format, typer.Option("--format", "-f", metavar="text|json|github", help="Output format.",
                                              case_sensitive=False)]
PathsArgument = Annotated[
    Optional[list[Path]],
    typer.Argument(metavar="PATHS", help="Spec files or folders (default: spec_paths from mlmeta.toml or "
                                              "[tool.mlmeta] in pyproject.toml, else model_specs/).",
                   show_default=False),
]
ChangedSinceOption = Annotated[
    Optional[str],
    typer.Option("--changed-since", metavar="REF", help="Only specs changed since this git ref (e.g. origin/main)."),
]
SelectOption = Annotated[Optional[list[str]], typer.Option(
    "--select", metavar="SELECTOR", help="Only the specs a selector matches (repeatable: any of them): tag:Tier.Tier1, "
                                         "owner:USER_OR_TEAM, name:PATTERN or path:PATTERN (fnmatch; a folder "
                                         "selects what is below it).", show_default=False)]

HostOption = Annotated[Optional[str], typer.Option("--host", metavar="URL", help="OpenMetadata URL (else "
                                                                                 "OPENMETADATA_HOST).",
                                                   show_default=False)]
TokenFileOption = Annotated[Optional[Path], typer.Option(
    "--token-file", metavar="FILE", help="File with the OpenMetadata JWT (else OPENMETADATA_JWT_TOKEN[_FILE]).",
    show_default=False)]
MlflowOption = Annotated[Optional[str], typer.Option("--mlflow-uri", metavar="URL",
                                                     help="MLflow tracking server (else MLFLOW_TRACKING_URI).",
                                                     show_default=False)]
CaBundleOption = Annotated[Optional[Path], typer.Option("--ca-bundle", metavar="FILE",
                                                        help="CA bundle to verify OpenMetadata's TLS.",
                                                        show_default=False)]
TimeoutOption = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="SECONDS", help="Wait this long for one answer from a server (default 30).",
    show_default=False)]
DeadlineOption = Annotated[Optional[float], typer.Option(
    "--deadline", metavar="SECONDS", help="Give up on a server that has not answered for this long (default 60).",
    show_default=False)]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also show debug lines and the libraries' "
                                                                     "warnings (as MLMETA_DEBUG=1).")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]
RegisteredModelOption = Annotated[Optional[str], typer.Option(
    "--registered-model", metavar="NAME", help="Only the specs documenting this MLflow registered model.",
    show_default=False)]
SchemaRefOption = Annotated[Optional[str], typer.Option(
    "--schema-ref", metavar="REF", help="$schema line for editors (default: the project's mlmeta.schema.json, "
                                        "written by 'mlmeta schema -o', when there is one; '' for none).",
    show_default=False)]
SinkOption = Annotated[Optional[list[str]], typer.Option(
    "--sink", metavar="SINK", help="Where events go (repeatable): -, jsonl:FILE, http(s)://..., "
                                   "kafka://host:port/topic (default for watch and webhook: stdout).",
    show_default=False)]
CreateServiceOption = Annotated[bool, typer.Option("--create-service",
                                                   help="Create the ML model service if it is missing.")]
ConcurrencyOption = Annotated[Optional[int], typer.Option("--concurrency", metavar="N",
                                                          help="Models handled at once (default 8).",
                                                          show_default=False)]
RefreshOption = Annotated[bool, typer.Option("--refresh", help="Look up every table again, even for unchanged "
                                                               "sources.")]


def spool_option(default: str):
    """--spool, with the default of its command in the help (each command keeps its own spool)."""
    return Annotated[Optional[Path], typer.Option(
        "--spool", metavar="FILE", help=f"Events a sink could not take wait here and are sent first next time "
                                        f"(default: {default}).", show_default=False)]


# --- option groups --------------------------------------------------------------------------------

SETTING_OF_OPTION = {"host": "openmetadata_host", "mlflow_uri": "mlflow_tracking_uri"}  # the others: their own name


class OptionGroup:
    """Options given together to several commands: a dataclass whose fields are the options, each
    named as its setting (or as ``SETTING_OF_OPTION`` says)."""

    def overrides(self, **more: object) -> dict:
        """The Settings overrides these options make (None: not given, so load_settings ignores it)."""
        options = fields(self)  # type: ignore[arg-type]
        return {SETTING_OF_OPTION.get(f.name, f.name): getattr(self, f.name) for f in options} | more

    def timing(self) -> dict:
        """Only how long to wait: what a command that may stay offline still checks."""
        return {"timeout": getattr(self, "timeout"), "deadline": getattr(self, "deadline")}


@dataclass(frozen=True)
class Connection(OptionGroup):
    """Where both servers are and how long to wait for them."""

    host: HostOption = None
    token_file: TokenFileOption = None
    mlflow_uri: MlflowOption = None
    ca_bundle: CaBundleOption = None
    timeout: TimeoutOption = None
    deadline: DeadlineOption = None


@dataclass(frozen=True)
class CatalogConnection(OptionGroup):
    """Where OpenMetadata is and how long to wait for it (commands that never read the registry)."""

    host: HostOption = None
    token_file: TokenFileOption = None
    ca_bundle: CaBundleOption = None
    timeout: TimeoutOption = None
    deadline: DeadlineOption = None


@dataclass(frozen=True)
class RegistryConnection(OptionGroup):
    """Where the registry is and how long to wait for it (commands that never read the catalog)."""

    mlflow_uri: MlflowOption = None
    timeout: TimeoutOption = None
    deadline: DeadlineOption = None


def with_groups(command):
    """``command`` as typer should see it: each option-group parameter replaced, in its place, by the
    group's options; when called, the options given are gathered back into their group."""
    signature = inspect.signature(command)
    if not any(_group(parameter.annotation, command.__globals__) for parameter in signature.parameters.values()):
        return command  # typer reads its annotations itself: they are evaluated once, at the first call of the app
    hints = typing.get_type_hints(command, include_extras=True)
    parameters: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for parameter in signature.parameters.values():
        annotation = hints.get(parameter.name, parameter.annotation)
        if _group(annotation, command.__globals__):
            members = _members(annotation)
            groups[parameter.name] = (annotation, [member.name for member in members])
            parameters.extend(members)
        else:
            parameters.append(parameter.replace(annotation=annotation))
    names = [parameter.name for parameter in parameters]
    if len(set(names)) != len(names):
        raise TypeError(f"{command.__name__}: an option of a group has the name of another parameter")

    @functools.wraps(command)
    def gathered(**given):
        for name, (group, members) in groups.items():
            given[name] = group(**{member: given.pop(member) for member in members})
        return command(**given)

    gathered.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    gathered.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return gathered


def _group(annotation: object, namespace: dict) -> bool:
    """Whether a parameter's annotation (a name, under ``from __future__ import annotations``) is an option group."""
    if isinstance(annotation, str):
        annotation = namespace.get(annotation)
    return isinstance(annotation, type) and issubclass(annotation, OptionGroup)


@functools.cache
def _members(group: type) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(group, include_extras=True)
    return [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                              annotation=hints[f.name]) for f in fields(group)]
