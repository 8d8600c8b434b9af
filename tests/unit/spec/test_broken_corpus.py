"""Every file under broken/ fails with exactly the findings listed in broken/expected.txt."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from mlmeta.output.text import diagnostic_line
from mlmeta.spec.load import load_spec

BROKEN = Path(__file__).parent / "broken"


def _expected() -> dict[str, list[str]]:
    expected: dict[str, list[str]] = defaultdict(list)
    for line in (BROKEN / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            expected[line.split(":", 1)[0]].append(line)
    return expected


EXPECTED = _expected()
FILES = sorted(p.name for p in BROKEN.glob("*.yaml"))


def test_the_corpus_is_large_and_fully_described():
    assert len(FILES) >= 30
    assert set(FILES) == set(EXPECTED)


@pytest.mark.parametrize("name", FILES)
def test_broken_spec_reports_message_and_position(name):
    result = load_spec(BROKEN / name, display_path=name)
    assert result.spec is None
    assert [diagnostic_line(d) for d in result.diagnostics] == EXPECTED[name]


def test_oversized_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("mlmeta: 1\nname: x\ndescription: |\n" + "  lorem ipsum\n" * 100_000)
    [d] = load_spec(big, "big.yaml").diagnostics
    assert (d.code, d.line, d.column) == ("F004", 1, 1)
    assert "larger than 1024 KiB" in d.message


def test_deep_nesting_is_refused(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("mlmeta: 1\nname: x\nmodel_card: " + "[" * 100 + "]" * 100 + "\n")
    [d] = load_spec(deep, "deep.yaml").diagnostics
    assert d.code == "Y003" and d.message == "nesting deeper than 64 levels"
    assert d.line == 3


def test_recursive_alias_is_refused_not_looped_forever(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.write_text("mlmeta: 1\nname: x\nmodel_card: &a [*a]\n")
    [d] = load_spec(loop, "loop.yaml").diagnostics
    assert d.code in ("Y001", "Y003")
    assert d.line == 3
