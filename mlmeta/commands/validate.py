"""``mlmeta validate``: load every spec, collect diagnostics, never touch a server (offline)."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.spec.discovery import display_path
from mlmeta.errors import ExitCode
from mlmeta.spec import policy as card_policy
from mlmeta.spec.load import LoadedSpec, load_spec


@dataclass
class FileReport:
    path: str
    format: str | None  # "v1", "openmetadata-demo", or None when the file could not be read as a spec
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spec: LoadedSpec | None = None

    @property
    def valid(self) -> bool:
        return self.spec is not None and not any(d.is_error for d in self.diagnostics)


@dataclass
class ValidationReport:
    files: list[FileReport]
    openmetadata: dict[str, Any] | None = None  # with --online: the server's release and its behaviours
    warnings: list[str] = field(default_factory=list)  # about the run, not one spec (a policy tag nobody uses)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics]

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if all(f.valid for f in self.files) else ExitCode.FINDINGS

    def specs(self) -> list[LoadedSpec]:
        return [f.spec for f in self.files if f.valid and f.spec is not None]

    def specs_of(self, registered_model: str | None) -> tuple[list[LoadedSpec], list[str]]:
        """The valid specs - only those documenting ``registered_model`` when it is given - and the
        warning to show when none does (a mistyped name, e.g. from a webhook's payload, must not
        look like a run with nothing to do)."""
        specs = [s for s in self.specs() if registered_model in (None, s.spec.registered_model)]
        if registered_model is None or specs:
            return specs, []
        known = sorted({s.spec.registered_model for s in self.specs()})
        close = difflib.get_close_matches(registered_model, known, n=1)
        invalid = sum(1 for f in self.files if not f.valid)
        return [], [f"--registered-model {registered_model}: no spec documents this registered model "
                    f"({len(known)} registered model(s) in {len(self.files)} spec(s)"
                    + (f", {invalid} invalid" if invalid else "") + ")"
                    + (f"; did you mean {close[0]!r}?" if close else "")]


def validate_files(files: list[Path], *, default_service: str | None = None, strict: bool = False,
                   service_required: bool = False, policy: tuple[dict, str] | None = None) -> ValidationReport:
    """``service_required``: a spec without 'service' is an error unless there is a default (the
    project's configuration) - every command that publishes needs one. ``policy``: the model-card
    policy and where it is written (``Settings.card_policy``)."""
    reports = []
    cwd = os.getcwd()
    for path in files:
        shown = display_path(path, cwd)
        result = load_spec(path, shown)
        diagnostics = [d.promoted() if strict else d for d in result.diagnostics]
        if service_required and result.spec is not None and not (result.spec.spec.service or default_service):
            diagnostics.append(result.spec.diagnostic(
                (), "S002", "missing key 'service': no ML model service is named here, and the project sets no "
                            "default ('service' in mlmeta.toml or [tool.mlmeta] in pyproject.toml)"))
        if policy and result.spec is not None:
            diagnostics += card_policy.check(result.spec, *policy)
        reports.append(FileReport(shown, result.spec.format if result.spec else None, diagnostics, result.spec))
    _check_unique_models(reports, default_service)
    loaded = [r.spec for r in reports if r.spec is not None]
    return ValidationReport(reports, warnings=card_policy.unused(policy[0], loaded) if policy and loaded else [])


def _check_unique_models(reports: list[FileReport], default_service: str | None) -> None:
    """Two specs for one model would overwrite each other on every publish."""
    first: dict[str, str] = {}
    for report in reports:
        if not report.valid:
            continue
        spec = report.spec.spec
        key = fqn.join(spec.service or default_service or "", spec.name).casefold()
        if key in first:
            report.diagnostics.append(report.spec.diagnostic(
                ("name",), "S006", f"model {spec.name!r} is already described by {first[key]}"))
        else:
            first[key] = report.path
