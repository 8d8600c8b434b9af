"""Human-readable output: one ``path:line:col: severity CODE message`` line per finding."""

from __future__ import annotations

from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.output import console


def diagnostic_line(d: Diagnostic) -> str:
    return f"{d.file}:{d.line}:{d.column}: {d.severity.value} {d.code} {d.message}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_validation(report) -> None:
    for d in report.diagnostics:
        console.out(diagnostic_line(d))
    invalid = sum(1 for f in report.files if not f.valid)
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    summary = f"{plural(len(report.files), 'spec')} checked"
    if invalid:
        summary += f", {invalid} invalid"
    if errors or warnings:
        summary += f" ({plural(errors, 'error')}, {plural(warnings, 'warning')})"
    console.out(summary + ("" if invalid else ": all valid"))
