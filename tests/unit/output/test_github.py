from __future__ import annotations

from mlmeta.commands.publish import ModelResult, Report
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.output import github
from mlmeta.plan.diff import Change


def test_annotation_escapes_data_and_properties():
    d = Diagnostic("specs/a,b.yaml", 3, 7, "S004", "50% wrong:\nsecond line", Severity.WARNING)
    assert github.annotation(d) == ("::warning file=specs/a%2Cb.yaml,line=3,col=7,title=mlmeta S004::"
                                    "50%25 wrong:%0Asecond line")


def test_step_summary_table_escapes_pipes(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    table = github.diagnostics_table([Diagnostic("a.yaml", 1, 2, "S001", "a | b")])
    assert github.write_step_summary("### title\n\n" + table)
    assert "| `a.yaml:1:2` | error | S001 | a \\| b |" in summary.read_text()


def test_outputs_support_multiline_values(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    github.write_outputs({"created": 2, "models": "a\nb"})
    lines = out.read_text().splitlines()
    assert lines[0] == "created=2"
    assert lines[1].startswith("models<<MLMETA_EOF_") and lines[2:4] == ["a", "b"] and lines[4] == lines[1][8:]


def test_nothing_is_written_outside_actions(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert not github.write_step_summary("x") and not github.write_outputs({"a": 1})


def test_a_failed_models_summary_row_shows_its_reason_and_no_changes(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    added = [Change("description", "added", "description added (0 -> 20 characters)")]
    github.render_publish(Report("publish", [
        ModelResult("a.yaml", "svc.a", "failed", changes=added, message="ML model service 'svc' not found"),
        ModelResult("b.yaml", "svc.b", "failed", message="column 'x' not found"),
        ModelResult("c.yaml", "svc.c", "created", changes=added)]))
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| `svc.")]
    assert rows == ["| `svc.a` | failed |  | ML model service 'svc' not found |",
                    "| `svc.b` | failed |  | column 'x' not found |",
                    "| `svc.c` | created |  | description added (0 -> 20 characters) |"]
