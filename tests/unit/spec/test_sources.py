"""The streaming example's sources validate offline."""

from __future__ import annotations


def test_the_streaming_example_validates_offline(cli, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    result = cli("validate", "examples/streaming")
    assert result.exit_code == 0 and "1 spec checked: all valid" in result.stdout, result.stdout
