"""Human-readable output: one ``path:line:col: severity CODE message`` line per finding."""

from __future__ import annotations

from mlmeta.catalog import fqn
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.output import console
from mlmeta.registry.table import kind_of
from mlmeta.registry.types import version_label


def diagnostic_line(d: Diagnostic) -> str:
    return f"{d.file}:{d.line}:{d.column}: {d.severity.value} {d.code} {d.message}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_validation(report) -> None:
    if report.openmetadata:
        console.out(report.openmetadata["summary"])
    for d in report.diagnostics:
        console.out(diagnostic_line(d))
    invalid = sum(1 for f in report.files if not f.valid)
    errors, warnings = report.count(Severity.ERROR), report.count(Severity.WARNING)
    summary = f"{plural(len(report.files), 'spec')} checked"
    if invalid:
        summary += f", {invalid} invalid"
    if errors or warnings:
        summary += f" ({plural(errors, 'error')}, {plural(warnings, 'warning')})"
    render_warnings(report.warnings)
    console.out(summary + ("" if invalid else ": all valid"))


_VERB = {"plan": {"created": "create", "updated": "update", "unchanged": "unchanged", "deleted": "delete",
                  "skipped": "skip", "failed": "failed"},
         "publish": {s: s for s in ("created", "updated", "unchanged", "deleted", "skipped", "failed")}}


_SETUP_MARK = {"created": "+", "exists": "=", "conflict": "!", "unavailable": "-", "failed": "x"}


def render_setup(steps, dry_run: bool) -> None:
    for step in steps:
        status = "would be created" if dry_run and step.status == "created" else step.status
        note = f": {step.message}" if step.message else ""
        console.out(f"{_SETUP_MARK[step.status]} mlmodel.{step.name} ({step.type}) {status}{note}")
    counts = {status: sum(1 for s in steps if s.status == status) for status in _SETUP_MARK}
    verb = "would create" if dry_run else "created"
    extra = "".join(f", {counts[status]} {status}" for status in ("unavailable", "failed") if counts[status])
    console.out(f"setup: {verb} {counts['created']}, {counts['exists']} already defined, "
                f"{plural(counts['conflict'], 'conflict')}{extra}")


def render_publish(report) -> None:
    if report.setup:
        render_setup(report.setup, report.mode == "plan")
    for invalid in report.invalid:
        for d in invalid.diagnostics:
            console.out(diagnostic_line(d))
    for result in report.results:
        console.out(_headline(report.mode, result))
        for change in result.changes:
            console.out(f"    ~ {change.summary}")
        for line in _lineage_lines(result):
            console.out(line)
        for d in result.diagnostics:
            console.out("    " + diagnostic_line(d))
    render_warnings(report.warnings)
    console.out(summary_line(report))


def render_warnings(warnings: list[str]) -> None:
    """Warnings about the run itself (no spec to point at), just above its summary."""
    for warning in warnings:
        console.out(f"warning: {warning}")


def _columns(result, source: str) -> str:
    """`` (columns: last_update -> last_update_bucket; rating, average_price -> restaurant_dimension)``"""
    mapping = result.lineage_columns.get(source)
    if not mapping:
        return ""
    prefix = source + "."
    shown = []
    for pair in mapping:
        children = ", ".join(c.removeprefix(prefix) for c in pair["fromColumns"])
        shown.append(f"{children} -> {fqn.split(pair['toColumn'])[-1]}")
    return f" (columns: {'; '.join(shown)})"


def _lineage_lines(result) -> list[str]:
    """``+ lineage from orders (columns: ...)``, ``- lineage to kafka.results``: what changes, both ways."""
    def upstream(fqn_: str) -> str:
        return _columns(result, fqn_) + _roles(result, fqn_)

    def downstream(fqn_: str) -> str:
        return _prediction_columns(result, fqn_)

    lines = []
    for way, shown, (added, updated, removed) in (
            ("from", upstream, (result.lineage_added, result.lineage_updated, result.lineage_removed)),
            ("to", downstream, (result.outputs_added, result.outputs_updated, result.outputs_removed))):
        lines += [f"    + lineage {way} {asset}{shown(asset)}" for asset in added]
        lines += [f"    ~ lineage {way} {asset}{shown(asset)}" for asset in updated]
        lines += [f"    - lineage {way} {asset}" for asset in removed]
    return lines


def _roles(result, source: str) -> str:
    """`` [feature source; training data, MLflow run 4f2e..., dataset users@a1b2]`` when more than a feature source"""
    roles = result.lineage_roles.get(source)
    return f" [{'; '.join(roles)}]" if roles else ""


def _prediction_columns(result, output: str) -> str:
    """`` (predictions: is_bot <- 6 features)``"""
    mapping = result.lineage_columns.get(output)
    if not mapping:
        return ""
    shown = [f"{pair['toColumn'].removeprefix(output + '.')} <- {len(pair['fromColumns'])} feature(s)"
             for pair in mapping]
    return f" (predictions: {'; '.join(shown)})"


def _headline(mode: str, result) -> str:
    status = _VERB[mode][result.status]
    version = ""
    if result.version_after is not None and result.version_before not in (None, result.version_after):
        version = f" (version {result.version_before} -> {result.version_after})"
    elif result.version_after is not None:
        version = f" (version {result.version_after})"
    production = ""
    if result.production:
        p = result.production
        registry = kind_of(p.get("registry")).label
        production = f" <- {registry} {p['registered_model']} {version_label(p['version'])} ({p['recognised_by']} {p['marker']})"
    reason = f": {result.message}" if result.message else ""  # set only when there is something to explain
    return f"{result.model} [{status}]{version}{production}{reason}  ({result.spec})"


def summary_line(report, *, prefixed: bool = True) -> str:
    """``publish: 1 created, ... (6 OpenMetadata requests)``; without the command word for headings."""
    counts = report.counts
    words = ", ".join(f"{counts[s]} {s}" for s in counts)
    prefix = ("plan: " if prefixed else "") + "would be " if report.mode == "plan" else (
        "publish: " if prefixed else "")
    return f"{prefix}{words} ({plural(report.requests, 'OpenMetadata request')})"


def render_drift(report) -> None:
    for d in report.diagnostics:
        console.out(diagnostic_line(d))
    for orphan in report.orphans:
        console.out(f"{orphan['model']}: warning {orphan['message']}")
    render_warnings(report.warnings)
    console.out(f"drift: {drift_summary(report)}")


def drift_summary(report) -> str:
    """``1 of 2 models checked drifted; 1 published model has no spec (3 findings)``: the specs
    checked and the models without one (found in the catalog, not checked) counted apart."""
    if not (report.findings or report.orphans):
        return f"{plural(report.checked, 'model')} checked, all in sync"
    parts = [f"{report.drifted} of {plural(report.checked, 'model')} checked drifted"]
    if report.orphans:
        has = "has" if len(report.orphans) == 1 else "have"
        parts.append(f"{plural(len(report.orphans), 'published model')} {has} no spec")
    return f"{'; '.join(parts)} ({plural(len(report.findings) + len(report.orphans), 'finding')})"
