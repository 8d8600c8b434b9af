"""A model from the catalog, written as a spec by ``mlmeta import``, is that model's text and nothing
more: whatever a catalog editor typed into its description, display name or a feature's
description reads back as exactly that value, never as another key; a name from the catalog
never puts the file outside the spec folder; a name's line break never leaves the header's comment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeta.commands.catalog_import import _default_path, render, spec_data
from mlmeta.config import Settings
from mlmeta.errors import UsageError

# what a catalog editor can type, line breaks of every kind included (YAML 1.1 reads \r, \x85,
# \u2028 and \u2029 as line breaks too)
pieces = st.one_of(st.characters(blacklist_categories=("Cs",)),
                   st.sampled_from(["\n", "\r", "\x85", "\u2028", "\u2029", "\t", " ", ":", "#", "- ", "key: value",
                                    "name: stolen", "|", ">", "'", '"', "---", "...", "&a", "*a", "!!python/name:os"]))
texts = st.lists(pieces, min_size=1, max_size=30).map("".join).map(str.strip).filter(bool)


def model(description: str, display: str, feature_text: str) -> dict:
    return {"name": "churn", "fullyQualifiedName": "svc.churn", "service": {"fullyQualifiedName": "svc"},
            "description": description, "displayName": display,
            "mlFeatures": [{"name": "tenure", "dataType": "numerical", "description": feature_text}]}


@settings(max_examples=150, deadline=None)
@given(texts, texts, texts)
def test_no_text_from_the_catalog_can_add_a_key_or_change_another_value(description, display, feature_text):
    text = render(spec_data(model(description, display, feature_text), [], "svc"), ["header"])
    data = yaml.safe_load(text)
    assert set(data) <= {"mlmeta", "name", "display_name", "description", "features"}
    assert (data["mlmeta"], data["name"]) == (1, "churn")
    assert data["description"] == description.strip()
    if display != "churn":
        assert data["display_name"] == display
    assert data["features"] == [{"name": "tenure", "type": "numerical", "description": feature_text, "sources": []}]


@settings(max_examples=100, deadline=None)
@given(texts)
def test_a_name_in_the_header_stays_a_comment(name):
    text = render({"mlmeta": 1, "name": "churn"}, [f"Written by `mlmeta import svc.{name}`"])
    assert yaml.safe_load(text) == {"mlmeta": 1, "name": "churn"}


def test_a_catalog_name_never_leads_the_file_out_of_the_spec_folder(tmp_path):
    settings = Settings(spec_paths=(tmp_path / "model_specs",))
    for name in ('svc."../../etc/passwd"', 'svc."/abs"', 'svc."a/b\\\\c"', 'svc."..."', "svc.~root"):
        path = _default_path(settings, name)
        assert path.parent == tmp_path / "model_specs" and path.name.endswith(".yaml")
        assert "/" not in path.name and not path.name.startswith(".")
    assert Path(_default_path(settings, "svc.churn")).name == "churn.yaml"
    for malformed in ("svc.../..", "churn", "svc.a.b"):
        with pytest.raises(UsageError, match="is not a model FQN"):
            _default_path(settings, malformed)
