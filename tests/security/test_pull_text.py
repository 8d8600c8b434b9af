"""A text from the catalog, spliced into a spec by ``pull``, is that text and nothing more: no
editor can add a key, change another value or break the file, whatever characters they type."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeta.commands.pull import edited

SPEC = """\
mlmeta: 1
name: churn   # the model
description: Old words.
features:
  - name: tenure
    description: "Months as a customer."
    sources: [{column: svc.db.public.users.tenure}]
hyperparameters:
  depth:
    description: |
      Tree depth.
"""
PLACES = [("description",), ("features", 0, "description"), ("hyperparameters", "depth", "description")]
# what a catalog editor can type, line breaks of every kind included (YAML 1.1 reads \r, \x85,
# \u2028 and \u2029 as line breaks too)
pieces = st.one_of(st.characters(), st.sampled_from(["\n", "\r", "\x85", "\u2028", "\u2029", "\t", " ", ":", "#",
                                                      "- ", "key: value", "|", ">", "'", '"', "---"]))
texts = st.lists(pieces, min_size=1, max_size=30).map("".join).map(str.strip).filter(bool)


def _at(data, place):
    for part in place:
        data = data[part]
    return data


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PLACES), texts)
def test_a_spliced_text_reads_back_as_itself_and_nothing_else_moves(place, text):
    before = yaml.safe_load(SPEC)
    after = yaml.safe_load(edited(SPEC, [(place, text)]))
    assert _at(after, place).rstrip("\n") == text
    _at(before, place[:-1])[place[-1]] = _at(after, place)
    assert after == before  # no key added, no other value changed
