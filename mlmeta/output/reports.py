"""Renderers of the reports of pull, adopt, import, doctor, graph, explain and sandbox: each as
text on stdout, or as the one JSON document of ``--format json``."""

from __future__ import annotations

import json

from mlmeta.output import Format, console


def render_pull(report, dry_run: bool, fmt: Format) -> None:
    """The diffs pull made (or would make), its warnings and a summary line; the specs it could not
    read are rendered before, as validate renders them."""
    from mlmeta.output import github, jsonfmt, text

    if fmt is Format.JSON:
        jsonfmt.dump({"command": "pull", "dry_run": dry_run, "changes": [vars(c) for c in report.changes],
                      "diffs": [d for p in report.pulls for d in p.diffs], "warnings": report.warnings,
                      "summary": {"checked": report.checked, "specs": len(report.pulls),
                                  "texts": len(report.changes), "invalid": len(report.invalid)}})
        return
    if fmt is Format.GITHUB:
        github.print_warnings("pull", report.warnings)
    for spec_pull in report.pulls:
        for diff in spec_pull.diffs:
            console.out(diff, end="")
    text.render_warnings(report.warnings)
    verb = "would take" if dry_run else "took"
    console.out(f"pull: {verb} {len(report.changes)} text(s) from the catalog into {len(report.pulls)} of "
                f"{report.checked} spec(s)")


def render_adopt(done, project, dry_run: bool, fmt: Format) -> None:
    from mlmeta.output import jsonfmt

    if fmt is Format.JSON:
        jsonfmt.dump({"command": "adopt", "dry_run": dry_run, "project": project.name,
                      "models": [a.as_dict() for a in done]})
        return
    for adoption in done:
        console.out(f"{adoption.model} [{adoption.status}]: {adoption.message}")
    adopted = sum(1 for a in done if a.status == "adopted")
    console.out(f"adopt: {adopted} of {len(done)} model(s) {'would be ' if dry_run else ''}adopted by "
                f"{project.name} ({project.source})")


def render_import(done, fmt: Format) -> None:
    from mlmeta.output import jsonfmt
    from mlmeta.output.text import diagnostic_line

    if fmt is Format.JSON:
        jsonfmt.dump({"command": "import", "models": [i.as_dict() for i in done]})
        return
    for imported in done:
        console.out(f"{imported.model} [{imported.status}]: {imported.message}")
        for diagnostic in imported.diagnostics:
            console.out("    " + diagnostic_line(diagnostic))
    written = sum(1 for i in done if i.status == "written")
    console.out(f"import: {written} of {len(done)} spec(s) written" + (
        "; validate them, then publish: that records this project as each model's owner" if written else ""))


_DOCTOR_MARKS = {"ok": "ok ", "warning": "!  ", "problem": "X  ", "skipped": "-  "}


def render_doctor(report, fmt: Format) -> None:
    """The settings and where each came from, then each check with its fix."""
    if fmt is Format.JSON:
        console.out(json.dumps({"version": 1, "command": "doctor", "settings": report.settings,
                                "checks": [c.as_dict() for c in report.checks], "problems": report.problems},
                               indent=2))
        return
    console.out("configuration:")
    for key, shown in report.settings.items():
        console.out(f"  {key} = {shown['value']}  ({shown['from']})")
    for check in report.checks:
        console.out(f"{_DOCTOR_MARKS[check.status]}{check.name}: {check.detail}")
        if check.fix:
            console.out(f"     fix: {check.fix}")
    console.out(f"doctor: {report.problems} problem(s)" if report.problems else "doctor: all green")


def render_write_test(report, fmt: Format) -> None:
    """``doctor --write-test``: the self-test's report as text, or as JSON to attach to an issue."""
    from mlmeta.output import jsonfmt

    if fmt is Format.JSON:
        jsonfmt.dump(report.as_dict())
    else:
        for line in report.lines():
            console.out(line)


def render_graphs(graphs, drawing: str) -> None:
    """The lineage graphs as ``drawing`` says: ``mermaid``, ``dot``, or ``json`` (the graphs as data)."""
    from mlmeta.commands import graph as lineage_graph

    if drawing == "json":
        console.out(json.dumps({"version": 1, "command": "graph", "graphs": [g.as_dict() for g in graphs]},
                               indent=2))
        return
    render = lineage_graph.mermaid if drawing == "mermaid" else lineage_graph.dot
    console.out("\n".join(render(g) for g in graphs), end="")


def render_explanation(said: dict, fmt: Format) -> None:
    from mlmeta import explanations

    if fmt is Format.JSON:
        console.out(json.dumps({"version": 1, "command": "explain", **said}, indent=2, ensure_ascii=False))
    else:
        console.out(explanations.as_text(said))


def render_sandbox_ready(info: dict, ignored, fmt: Format) -> None:
    """Where the sandbox listens and where its tokens are, once it is ready."""
    if fmt is Format.JSON:
        console.out(json.dumps(info))
        return
    console.out(f"OpenMetadata sandbox listening on {info['api_url']}")
    console.out(f"tokens (mlmeta-bot, admin) written to {info['token_file']}"
                + (f" (listed in {ignored}, so git ignores them)" if ignored else ""))
    console.out("point mlmeta at it:")
    console.out(f"  export OPENMETADATA_HOST={info['url']} OPENMETADATA_JWT_TOKEN_FILE={info['bot_token_file']}")


def render_notes(command: str, notes: list[str]) -> None:
    """What a command says beside the file it writes, on stderr."""
    for line in notes:
        console.err(f"mlmeta {command}: {line}")
