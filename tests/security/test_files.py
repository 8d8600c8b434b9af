"""Every file mlmeta writes is opened safely: no symlink followed, no predictable temporary
name, all or nothing; state private to its user (0600 files, 0700 folders)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlmeta import state
from mlmeta.triggers.follow import Checkpoint
from mlmeta.triggers.journal import Journal
from tests.helpers.files import GOOD_SPEC, write


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    return write(tmp_path / "elsewhere" / "victim.txt", "precious\n")


def test_a_state_file_replaced_through_a_planted_symlink_leaves_the_target_alone(tmp_path, victim):
    checkpoint = tmp_path / ".mlmeta" / "checkpoint.json"
    checkpoint.parent.mkdir()
    checkpoint.symlink_to(victim)
    # the temporary name of the old code, planted too: an exclusive, unpredictable name ignores it
    (checkpoint.parent / "checkpoint.json.tmp").symlink_to(victim)
    state.write_durably(checkpoint, '{"version": 1}\n')
    assert victim.read_text() == "precious\n"
    assert not checkpoint.is_symlink() and checkpoint.read_text() == '{"version": 1}\n'
    assert _mode(checkpoint) == 0o600


def test_state_folders_and_files_are_created_private(tmp_path):
    journal = Journal(tmp_path / "state" / "webhook-journal.jsonl")
    journal.open()
    journal.accept("churn", "d-1", "model_version_alias.created", 0.0)
    journal.close()
    Checkpoint(tmp_path / "state" / "checkpoint.json").write({"version": 1, "keys": {}})
    with Checkpoint(tmp_path / "state" / "checkpoint.json").locked(wait=1):
        pass
    assert _mode(tmp_path / "state") == 0o700
    assert {p.name: _mode(p) for p in (tmp_path / "state").iterdir()} == {
        "webhook-journal.jsonl": 0o600, "checkpoint.json": 0o600, "checkpoint.json.lock": 0o600}


def test_a_journal_or_lock_that_is_a_symlink_is_refused_not_followed(tmp_path, victim):
    (tmp_path / "journal.jsonl").symlink_to(victim)
    with pytest.raises(OSError):
        state.open_private(tmp_path / "journal.jsonl", append=True)
    assert victim.read_text() == "precious\n"


def test_a_state_file_left_wide_by_an_older_mlmeta_is_tightened(tmp_path):
    old = write(tmp_path / "journal.jsonl", "")
    os.chmod(old, 0o644)
    state.open_private(old, append=True).close()
    assert _mode(old) == 0o600


def test_a_new_file_is_never_written_over_anything_there_not_even_a_dangling_symlink(tmp_path, victim):
    dangling = tmp_path / "spec.yaml"
    dangling.symlink_to(tmp_path / "nowhere" / "planted.yaml")
    with pytest.raises(FileExistsError):
        state.create_file(dangling, b"mlmeta: 1\n")
    assert not (tmp_path / "nowhere").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["elsewhere", "spec.yaml"]  # no temporary file left


def test_init_and_convert_refuse_an_output_that_is_a_dangling_symlink(tmp_path):
    demo = Path(__file__).resolve().parents[2] / "examples" / "openmetadata-demo"
    source = next(demo.rglob("*.yaml"))
    planted = tmp_path / "out.yaml"
    planted.symlink_to(tmp_path / "outside.yaml")
    result = subprocess.run([sys.executable, "-m", "mlmeta", "convert", str(source), "-o", str(planted)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "exists" in result.stderr
    assert not (tmp_path / "outside.yaml").exists()


def test_card_output_through_a_symlink_replaces_the_link_not_its_target(tmp_path, victim):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    spec = write(tmp_path / "model_specs" / "churn.yaml", GOOD_SPEC)
    card = tmp_path / "README.md"
    card.symlink_to(victim)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    result = subprocess.run([sys.executable, "-m", "mlmeta", "card", str(spec), "-o", str(card)], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert not card.is_symlink() and "churn" in card.read_text()
