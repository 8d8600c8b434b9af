from __future__ import annotations

import pytest

from mlmeta.catalog import fqn

CASES = ["a.b", '"a.b".c', "svc.db.public.orders", 'svc."db.v2".public."my.table"', "a b.c", "x"]

BAD = ["", "a..b", "a.", ".a", 'a."b', '"".a', 'a"b.c', '"a.b"c.d']


@pytest.mark.parametrize("text", CASES)
def test_split_and_join_round_trip(text):
    assert fqn.join(*fqn.split(text)) == fqn.normalize(text)


def test_split_unquotes_parts_and_join_quotes_only_dotted_names():
    assert fqn.split('svc."db.v2".public.t') == ["svc", "db.v2", "public", "t"]
    assert fqn.join("svc", "my.model") == 'svc."my.model"'
    assert fqn.normalize('"plain".x') == "plain.x"


@pytest.mark.parametrize("text", BAD)
def test_malformed_names_are_rejected(text):
    with pytest.raises(fqn.FqnError):
        fqn.split(text)


def test_names_with_double_quotes_cannot_be_quoted():
    with pytest.raises(fqn.FqnError):
        fqn.quote('a"b')


def test_check_parts_counts_quoted_parts_once():
    assert fqn.check_parts('s."d.b".sc.t', 4, "table") == ["s", "d.b", "sc", "t"]
    with pytest.raises(fqn.FqnError, match="a table FQN has 4 dot-separated parts, 's.d.t' has 3"):
        fqn.check_parts("s.d.t", 4, "table")
    with pytest.raises(fqn.FqnError, match="2 or more"):
        fqn.check_parts("PII", (2, 99), "tag")
