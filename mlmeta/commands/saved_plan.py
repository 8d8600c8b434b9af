"""Saved plans: ``mlmeta plan -o plan.json`` keeps what publish would write, and ``mlmeta publish
--plan plan.json`` writes exactly that - or nothing at all, when anything it was made against changed.

A saved plan holds, per model, the exact writes (the create request, or the JSON Patch and the
version it applies to, the lineage edges to draw and to erase, an ML model service to create) and
the preconditions they were made against: the entity's id, version, update time and - where the
release sends one - ETag, and the registry's Production version (registered model, version, what
marks it). For the run: each spec file's digest and commit, mlmeta's version, the catalog's and the
registry's addresses (never a credential).

Applying follows Terraform's rule for a saved plan: a stale plan is refused whole. Each spec's
digest is checked, then the plan is made again as a dry run over the same specs, held at each step
to the saved one (``publish.Options.expected``): a precondition that changed, or a write that would
differ, refuses that model. If any model is refused, nothing is written - one line per refused
model, exit 1. Otherwise the specs are published under the same holds, each write guarded
(If-Match on the planned version, no retry): a change landing between the check and a write
refuses that model, and the report says so - OpenMetadata has no transaction across models.

A plan file is untrusted input (it may come from a pull request's artifacts): it is bounded in
size, validated in shape and format version, and it cannot name a write of its own. Every write
applied is one the current specs, catalog and registry produce, and must equal the plan's; the
specs it lists must be among the project's own (its ``spec_paths``) and are read from there.

What a plan cannot carry yet - a ``--prune``, a retirement (``when_not_in_production``: mark or
delete) - ``plan -o`` refuses to save, saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlmeta import __version__
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic
from mlmeta.errors import ConfigError, ExitCode, MlmetaError, UsageError
from mlmeta.plan.desired import registry_identity
from mlmeta.commands.publish import PLANNED, STALE_PLAN, ModelResult, Options, Report, execute, stale_reason

FORMAT = 1  # the plan file's format version; a reader refuses any other
MAX_BYTES = 16 * 1024 * 1024  # a plan of thousands of models fits; anything bigger is not a plan
MAX_MODELS = 10_000
STALE_WARNING = ("the saved plan is stale, so nothing was written: make a new plan (mlmeta plan -o) and apply "
                 "that one")


class PlanFileError(UsageError):
    """The plan file cannot be read, is too big, or is not a plan of this format."""


class StalePlan(MlmetaError):
    """The plan as a whole no longer holds (made by another mlmeta): nothing is written."""

    exit_code = ExitCode.FINDINGS


# --- the file's shape -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SpecFile(_Strict):
    path: str = Field(min_length=1, max_length=4096)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    commit: Optional[str] = Field(None, pattern=r"^[0-9a-f]{40,64}$")


class Server(_Strict):
    address: Optional[str] = Field(None, max_length=2048)
    kind: Optional[str] = Field(None, max_length=64)
    version: Optional[str] = Field(None, max_length=64)


class RunOptions(_Strict):
    create_service: bool = False
    strict: bool = False
    refresh: bool = False


class Entry(_Strict):
    """One model: what publish would do, the preconditions and the exact writes (``publish.PLANNED``)."""

    spec: str = Field(min_length=1, max_length=4096)
    model: str = Field(min_length=1, max_length=4096)
    status: Literal["created", "updated", "unchanged", "skipped"]
    production: Optional[dict[str, Any]] = None
    catalog: Optional[dict[str, Any]] = None
    service: Optional[str] = Field(None, max_length=4096)
    create: Optional[dict[str, Any]] = None
    patch: Optional[dict[str, Any]] = None
    lineage: Optional[dict[str, Any]] = None

    def planned(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in PLANNED}


class SavedPlan(_Strict):
    mlmeta_plan: Literal[1]
    mlmeta: str = Field(max_length=64)
    created_at: str = Field(max_length=64)
    openmetadata: Server
    registry: Server
    options: RunOptions
    specs: list[SpecFile] = Field(max_length=MAX_MODELS)
    models: list[Entry] = Field(max_length=MAX_MODELS)


# --- saving ----------------------------------------------------------------------------------------


def unsaveable(report: Report, options: Options) -> str | None:
    """Why this plan cannot be saved (nothing is then written), or None."""
    if report.invalid or report.counts["failed"]:
        return f"{report.counts['failed']} model(s) failed: a plan is saved only when every model can be published"
    retiring = [r.model for r in report.results
                if r.status == "deleted" or (r.status == "updated" and not r.production)]
    if retiring:
        return (f"a saved plan does not carry a retirement (when_not_in_production) yet: {', '.join(retiring)}; "
                "publish without --plan to retire them")
    return None


def document(report: Report, files: list[Path], options: Options, settings: Settings) -> dict[str, Any]:
    """The plan file's content: what ``report`` (a dry run with ``Options.record``) read and would write."""
    shown = {_display(path): path for path in files}
    specs = []
    for path_shown in dict.fromkeys(r.spec for r in report.results):
        digest = spec_digest(shown[path_shown]) if path_shown in shown else None
        if digest is None:
            raise UsageError(f"plan -o: cannot read {path_shown} again to record its digest")
        specs.append({"path": path_shown, "sha256": digest, "commit": report.commits.get(path_shown)})
    registry = report.registry
    return {
        "mlmeta_plan": FORMAT, "mlmeta": __version__,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "openmetadata": {"address": catalog_address(settings),
                         "version": (report.openmetadata or {}).get("version")},
        "registry": {"kind": getattr(registry, "name", settings.registry),
                     "address": server_address(getattr(registry, "public_uri", None))},
        "options": {"create_service": options.create_service, "strict": options.strict, "refresh": options.refresh},
        "specs": specs,
        "models": [{"spec": r.spec, "model": r.model, "status": r.status,
                    **{key: r.planned.get(key) for key in PLANNED}} for r in report.results],
    }


def catalog_address(settings: Settings) -> str | None:
    """The catalog's API address as a plan records it."""
    return server_address(settings.api_url())


def server_address(uri: str | None) -> str | None:
    """A server's address as a plan records and compares it: one spelling, and nothing that could be
    a credential - no user information, no query (``?token=``)."""
    identity = registry_identity(uri)
    return urlunsplit(urlsplit(identity)._replace(query="", fragment="")) if identity else identity


def spec_digest(path: Path) -> str | None:
    """The SHA-256 of a spec file's bytes, or None when it is not a regular file that can be read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        data = stream.read(MAX_BYTES + 1)
    return hashlib.sha256(data).hexdigest() if len(data) <= MAX_BYTES else None


def _display(path: Path) -> str:
    from mlmeta.spec.discovery import display_path

    return display_path(path)


# --- reading ---------------------------------------------------------------------------------------


def load(path: Path) -> SavedPlan:
    """A plan file, checked: bounded in size, JSON, this format, each field of the right shape."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise PlanFileError(f"--plan: cannot read {path}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise PlanFileError(f"--plan: {path} is not a regular file")
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PlanFileError(f"--plan: {path} is larger than {MAX_BYTES // (1024 * 1024)} MiB: not a plan mlmeta wrote")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise PlanFileError(f"--plan: {path} is not JSON ({type(error).__name__})",
                            hint="give the file mlmeta plan -o wrote") from None
    if not isinstance(raw, dict) or raw.get("mlmeta_plan") != FORMAT:
        found = raw.get("mlmeta_plan") if isinstance(raw, dict) else None
        raise PlanFileError(f"--plan: {path} is not an mlmeta plan of format {FORMAT} (mlmeta_plan: {found!r})",
                            hint="make the plan again with this mlmeta: mlmeta plan -o FILE")
    try:
        plan = SavedPlan.model_validate(raw)
    except (ValidationError, RecursionError) as error:
        raise PlanFileError(f"--plan: {path} is not a plan mlmeta wrote: {_first_problem(error)}") from None
    _check_consistent(plan, path)
    return plan


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return type(error).__name__


def _check_consistent(plan: SavedPlan, path: Path) -> None:
    """Each model named once, each from a spec the plan lists, one model per spec."""
    listed = [s.path for s in plan.specs]
    models = [m.model for m in plan.models]
    specs_of_models = [m.spec for m in plan.models]
    problem = None
    if len(set(listed)) != len(listed):
        problem = "a spec is listed twice"
    elif len(set(models)) != len(models) or len(set(specs_of_models)) != len(specs_of_models):
        problem = "a model or a spec appears twice among the models"
    elif set(specs_of_models) != set(listed):
        problem = "its models and its specs do not match"
    if problem:
        raise PlanFileError(f"--plan: {path} is not a plan mlmeta wrote: {problem}")


# --- applying --------------------------------------------------------------------------------------


def apply(plan: SavedPlan, settings: Settings, *, dry_run: bool = False,
          on_done: Callable[[ModelResult], None] | None = None) -> Report:
    """Check the plan against the specs, the catalog and the registry; write it when it holds, write
    nothing when it does not (the report names each refused model). ``dry_run``: check only."""
    _same_servers(plan, settings)
    files, refused = _spec_files(plan, settings)
    if refused:
        return _refusal(refused, [])
    options = Options(dry_run=True, create_service=plan.options.create_service, strict=plan.options.strict,
                      refresh=plan.options.refresh, expected={m.model: m.planned() for m in plan.models},
                      commits={s.path: s.commit for s in plan.specs})
    check = execute(files, settings, options)
    refused = _refusals(plan, check)
    if refused:
        return _refusal(refused, check.results, check)
    if dry_run:
        return check
    return execute(files, settings, replace(options, dry_run=False), on_done=on_done)


def _same_servers(plan: SavedPlan, settings: Settings) -> None:
    if plan.mlmeta != __version__:
        raise StalePlan(f"the plan was made by mlmeta {plan.mlmeta}, this is mlmeta {__version__}; nothing written",
                        hint="make the plan again with this version: mlmeta plan -o FILE")
    here = catalog_address(settings)
    if plan.openmetadata.address != here:
        raise ConfigError("OPENMETADATA_HOST", f"the plan was made for the catalog at {plan.openmetadata.address}, "
                                               f"this run talks to {here}; nothing written",
                          hint="apply a plan against the catalog it was made for")


def _spec_files(plan: SavedPlan, settings: Settings) -> tuple[list[Path], list[ModelResult]]:
    """The project's own spec files the plan lists (found under spec_paths, never at a path the plan
    names), and a refusal for each listed spec that is gone or changed since."""
    from mlmeta.spec.discovery import find_spec_files

    found = {_display(path): path for path in find_spec_files(list(settings.spec_paths))}
    model_of = {m.spec: m.model for m in plan.models}
    files, refused = [], []
    for spec in plan.specs:
        path = found.get(spec.path)
        if path is None:
            refused.append(_refused(spec.path, model_of[spec.path], f"{spec.path} is not among the project's specs "
                                                                     "(spec_paths) any more"))
        elif spec_digest(path) != spec.sha256:
            refused.append(_refused(spec.path, model_of[spec.path], f"{spec.path} changed since the plan was made "
                                                                     "(its digest differs)"))
        else:
            files.append(path)
    return files, refused


def _refusals(plan: SavedPlan, check: Report) -> list[ModelResult]:
    """Every model the dry run against today's catalog and registry does not find as planned."""
    refused = [r for r in check.results if r.status == "failed"]
    refused += [_refused(f.path, "(invalid spec)", "the spec is not valid any more") for f in check.invalid]
    entries = {m.model: m for m in plan.models}
    seen = {r.model for r in check.results}
    refused += [_refused(m.spec, m.model, "its spec documents another model now") for m in plan.models
                if m.model not in seen]
    for result in check.results:
        entry = entries.get(result.model)
        if result.status == "failed":
            continue
        if entry is None:
            refused.append(_refused(result.spec, result.model, "not in the saved plan"))
            continue
        planned = entry.planned()
        changed = next((key for key in PLANNED if result.planned.get(key) != planned[key]), None)
        if changed is not None:
            refused.append(_refused(result.spec, result.model, stale_reason(changed, planned[changed],
                                                                            result.planned.get(changed))))
    if check.registry is not None and server_address(check.registry.public_uri) != plan.registry.address:
        refused.append(_refused("", "(registry)", f"the plan was made with the registry at {plan.registry.address}, "
                                                  f"this run reads {server_address(check.registry.public_uri)}"))
    return refused


def _refused(spec: str, model: str, why: str) -> ModelResult:
    """A model refused before its pipeline ran: its finding at the spec's top (an annotation in GitHub)."""
    result = ModelResult(spec, model, "failed", message=f"refused: {why}")
    if spec:
        result.diagnostics.append(Diagnostic(spec, 1, 1, STALE_PLAN, f"{why}; make a new plan"))
    return result


def _refusal(refused: list[ModelResult], checked: list[ModelResult], check: Report | None = None) -> Report:
    """Nothing written: the refused models with their reasons, every other one not applied."""
    for result in refused:
        if result.message and not result.message.startswith("refused: "):
            result.message = f"refused: {result.message}"
    names = {r.model for r in refused}
    held_back = [ModelResult(r.spec, r.model, "skipped", production=r.production,
                             message="not applied: the plan is refused whole") for r in checked if r.model not in names]
    report = Report("publish", refused + held_back)
    if check is not None:
        report.requests, report.mlflow_requests = check.requests, check.mlflow_requests
        report.openmetadata, report.registry = check.openmetadata, check.registry
    report.warnings = [STALE_WARNING]
    return report
