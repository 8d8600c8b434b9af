"""GitHub Actions workflow commands, step summary and step outputs.

Annotations are shown on the pull request next to the line; GitHub shows at most 10 errors and
10 warnings per step, so the step summary carries the full list.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from mlmeta.diagnostics import Diagnostic
from mlmeta.output import console

_LEVELS = {"error": "error", "warning": "warning", "notice": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(d: Diagnostic) -> str:
    props = [f"file={escape_property(d.file)}", f"line={d.line}", f"col={d.column}"]
    if d.end_line:
        props.append(f"endLine={d.end_line}")
    if d.end_column:
        props.append(f"endColumn={d.end_column}")
    props.append(f"title={escape_property(f'mlmeta {d.code}')}")
    return f"::{_LEVELS[d.severity.value]} {','.join(props)}::{escape_data(d.message)}"


def print_annotations(diagnostics: Iterable[Diagnostic]) -> None:
    for d in diagnostics:
        console.out(annotation(d))


def print_warnings(command: str, warnings: Iterable[str]) -> None:
    """Annotations for warnings about the run itself (no file to point at)."""
    for warning in warnings:
        console.out(f"::warning title=mlmeta {command}::{escape_data(warning)}")


def warnings_list(warnings: list[str]) -> str:
    return "".join(f"- warning: {markdown_cell(w)}\n" for w in warnings) + ("\n" if warnings else "")


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def diagnostics_table(diagnostics: list[Diagnostic]) -> str:
    if not diagnostics:
        return ""
    rows = ["| Location | Severity | Code | Message |", "| --- | --- | --- | --- |"]
    for d in diagnostics:
        rows.append(f"| `{markdown_cell(d.file)}:{d.line}:{d.column}` | {d.severity.value} | {d.code} "
                    f"| {markdown_cell(d.message)} |")
    return "\n".join(rows) + "\n"


def write_step_summary(markdown: str) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when running in Actions; False when it is not set."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    console.append_to_file(path, markdown.rstrip("\n") + "\n\n")
    return True


def write_outputs(values: Mapping[str, object]) -> bool:
    """Append ``name=value`` lines to $GITHUB_OUTPUT (multi-line values use a delimiter)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return False
    lines = []
    for name, value in values.items():
        text = str(value)
        if "\n" in text:
            delimiter = f"MLMETA_EOF_{os.urandom(8).hex()}"
            lines.append(f"{name}<<{delimiter}\n{text}\n{delimiter}")
        else:
            lines.append(f"{name}={text}")
    console.append_to_file(path, "\n".join(lines) + "\n")
    return True


def render_validation(report) -> None:
    from mlmeta.output import text  # the log keeps a readable summary under the annotations

    print_annotations(report.diagnostics)
    print_warnings("validate", report.warnings)
    text.render_validation(report)
    invalid = [f for f in report.files if not f.valid]
    heading = "### mlmeta validate: " + (f"{len(invalid)} of {text.plural(len(report.files), 'spec')} invalid"
                                        if invalid else f"{text.plural(len(report.files), 'spec')} valid")
    write_step_summary(heading + "\n\n" + warnings_list(report.warnings) + diagnostics_table(report.diagnostics))


def render_publish(report) -> None:
    from mlmeta.output import text

    print_annotations(report.diagnostics)
    print_warnings(report.mode, report.warnings)
    text.render_publish(report)
    rows = ["| Model | Status | Version | Changes |", "| --- | --- | --- | --- |"]
    for r in report.results:
        version = "" if r.version_after is None else (
            f"{r.version_before} → {r.version_after}" if r.version_before not in (None, r.version_after)
            else f"{r.version_after}")
        rows.append(f"| `{markdown_cell(r.model)}` | {r.status} | {version} | {_what_happened(r)} |")
    title = "mlmeta plan" if report.mode == "plan" else "mlmeta publish"
    summary = (f"### {title}: {text.summary_line(report, prefixed=False)}\n\n" + warnings_list(report.warnings)
               + "\n".join(rows) + "\n\n" + diagnostics_table(report.diagnostics) + pictures(report))
    write_step_summary(summary)
    # the same Markdown as a step output: a workflow posts it on the pull request
    write_outputs({**report.counts, "summary": summary})


def pictures(report) -> str:
    """One Mermaid picture per created or changed model: its lineage, with what this change adds
    marked and what it removes struck through (GitHub renders ```mermaid blocks)."""
    from pathlib import Path

    from mlmeta.commands import graph
    from mlmeta.spec.load import load_spec

    shown = []
    for result in report.results:
        if result.status not in ("created", "updated"):
            continue
        loaded = load_spec(Path(result.spec), result.spec).spec
        if loaded is None:
            continue
        features = {kind: [c.item for c in result.changes if c.field == "mlFeatures" and c.kind == kind and c.item]
                    for kind in ("added", "removed")}
        picture = graph.mark(graph.build(loaded.spec, result.model), created=result.status == "created",
                             added_sources=result.lineage_added, removed_sources=result.lineage_removed,
                             added_features=features["added"], removed_features=features["removed"],
                             added_outputs=result.outputs_added, removed_outputs=result.outputs_removed,
                             added_columns=result.columns_added, removed_columns=result.columns_removed)
        verb = {"created": "created", "updated": "changed"}[result.status]
        shown.append(f"#### `{markdown_cell(result.model)}` ({verb})\n\n```mermaid\n{graph.mermaid(picture)}```\n")
    return "\n" + "\n".join(shown) if shown else ""


def _what_happened(result) -> str:
    """A failed model's reason - never its planned changes, which were not made - else its changes."""
    changes = [] if result.status == "failed" else result.changes[:20]
    return "<br>".join(markdown_cell(c.summary) for c in changes) or markdown_cell(result.message or "")


def render_drift(report) -> None:
    from mlmeta.output import text

    print_annotations(report.diagnostics)
    print_warnings("drift", [orphan["model"] + ": " + orphan["message"] for orphan in report.orphans] + report.warnings)
    text.render_drift(report)
    rows = [f"| `{markdown_cell(o['model'])}` | {markdown_cell(o['message'])} |" for o in report.orphans]
    orphans = ("\n\n| Orphaned model | |\n| --- | --- |\n" + "\n".join(rows)) if rows else ""
    heading = f"### mlmeta drift: {text.drift_summary(report)}"
    write_step_summary(heading + "\n\n" + warnings_list(report.warnings) + diagnostics_table(report.diagnostics)
                       + orphans)
