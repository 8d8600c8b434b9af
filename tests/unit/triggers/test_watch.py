"""``mlmeta watch`` from a subfolder without a project file says so and leaves nothing (no server)."""

from __future__ import annotations

from tests.helpers.files import write


def test_watch_from_a_subfolder_without_a_project_file_says_so_and_leaves_nothing(cli, in_tmp, monkeypatch):
    """Seen: ``path not found: model_specs`` with no hint, and ``model_specs/.mlmeta/`` left behind."""
    write(in_tmp / "model_specs" / "m.yaml", "mlmeta: 1\n")
    monkeypatch.chdir(in_tmp / "model_specs")
    result = cli("watch", "--once")
    assert result.exit_code == 2
    assert "no spec folder model_specs/" in result.stderr and "run mlmeta from the repository's root" in result.stderr
    assert not (in_tmp / "model_specs" / ".mlmeta").exists()
    result = cli("watch", "--once", "elsewhere")
    assert result.exit_code == 2 and "path not found: elsewhere" in result.stderr and "hint:" in result.stderr
    assert not (in_tmp / "model_specs" / ".mlmeta").exists()
