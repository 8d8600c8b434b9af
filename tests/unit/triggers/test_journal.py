"""The webhook's journal (mlmeta.triggers.journal): durable, recoverable, bounded - without a server."""

from __future__ import annotations

import pytest

from mlmeta.triggers import journal as journal_module
from mlmeta.triggers.journal import Journal, JournalFull


def opened(path, limit: int = 100) -> Journal:
    found = Journal(path, limit=limit)
    found.open()
    return found


def test_what_was_accepted_and_not_done_is_there_after_a_restart(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = opened(path)
    a = first.accept("churn", "d-1", "model_version_alias.created", 1_800_000_000.0)
    first.accept("eta", "d-2", "model_version_alias.created", 1_800_000_001.0)
    first.done([a])
    first.close()  # a crash leaves the same file: every write was flushed and fsync'd
    again = Journal(path)
    recovery = again.open()
    assert recovery.open_entries == 1 and recovery.damaged is None
    [left] = again.waiting()
    assert (left.model, left.delivery, left.announced) == ("eta", "d-2", 1_800_000_001.0)
    assert again.accept("churn", "d-3", "model_version_alias.created", 0.0).seq == 3  # numbers go on


def test_a_torn_last_record_is_set_aside_and_reported_and_the_rest_read(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = opened(path)
    first.accept("churn", "d-1", "model_version_alias.created", 1.0)
    first.close()
    torn = b'{"op":"accept","seq":2,"model":"et'  # a crash mid-write
    with path.open("ab") as handle:
        handle.write(torn)
    again = Journal(path)
    recovery = again.open()
    assert recovery.open_entries == 1 and recovery.damaged_bytes == len(torn)
    assert recovery.damaged.read_bytes() == torn
    assert [e.model for e in again.waiting()] == ["churn"]
    again.accept("eta", "d-2", "model_version_alias.created", 2.0)  # the journal goes on, whole
    again.close()
    assert Journal(path).open().damaged is None


def test_a_damaged_record_is_caught_by_its_checksum(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = opened(path)
    first.accept("churn", "d-1", "model_version_alias.created", 1.0)
    first.accept("eta", "d-2", "model_version_alias.created", 2.0)
    first.close()
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1].replace(b'"eta"', b'"etb"'))  # a flipped bit, valid JSON
    again = Journal(path)
    recovery = again.open()
    assert recovery.open_entries == 1 and recovery.damaged is not None
    assert [e.model for e in again.waiting()] == ["churn"]


def test_a_full_journal_refuses_until_work_is_done(tmp_path):
    full = opened(tmp_path / "journal.jsonl", limit=2)
    first = full.accept("a", "d-1", "e", 0.0)
    full.accept("b", "d-2", "e", 0.0)
    with pytest.raises(JournalFull):
        full.accept("c", "d-3", "e", 0.0)
    full.done([first])
    full.accept("c", "d-3", "e", 0.0)
    assert full.depth == 2


def test_the_journal_is_compacted_once_marks_pile_up(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "COMPACT_AFTER", 10)
    path = tmp_path / "journal.jsonl"
    compacting = opened(path)
    for i in range(30):
        compacting.done([compacting.accept("m", f"d-{i}", "e", 0.0)])
    kept = compacting.accept("kept", "d-kept", "e", 0.0)
    compacting.close()
    assert len(path.read_bytes().splitlines()) < 12  # not 61 records
    reopened = Journal(path)
    reopened.open()
    assert [e.seq for e in reopened.waiting()] == [kept.seq]
