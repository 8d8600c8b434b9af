"""What counts as Production in Kubeflow Model Registry: declared, never guessed (pure)."""

from __future__ import annotations

import pytest

from mlmeta.registry.kubeflow_rules import Rule, RuleError, production_of

MODEL = {"id": "1", "name": "churn", "customProperties": {
    "production_version": {"metadataType": "MetadataStringValue", "string_value": "v2"},
    "owner_count": {"metadataType": "MetadataIntValue", "int_value": "3"}}}


def version(vid: str, name: str, created: int, state: str = "LIVE", **properties: object) -> dict:
    encoded = {k: ({"metadataType": "MetadataStringValue", "string_value": v} if isinstance(v, str) else
                   {"metadataType": "MetadataDoubleValue", "double_value": v}) for k, v in properties.items()}
    return {"id": vid, "name": name, "state": state, "createTimeSinceEpoch": str(created), "customProperties": encoded}


VERSIONS = [version("2", "v1", 100, stage="archived"), version("3", "v2", 200, stage="production", production=""),
            version("4", "v3", 300, stage="staging"), version("5", "v4", 400, state="ARCHIVED")]


def test_a_property_a_label_the_newest_live_or_a_named_version():
    assert production_of(MODEL, VERSIONS, Rule(property="stage", value="production"))["name"] == "v2"
    assert production_of(MODEL, VERSIONS, Rule(label="production"))["name"] == "v2"
    assert production_of(MODEL, VERSIONS, Rule(newest_live=True))["name"] == "v3"  # v4 is archived
    assert production_of(MODEL, VERSIONS, Rule(version_property="production_version"))["name"] == "v2"
    assert production_of(MODEL, VERSIONS, Rule(property="stage", value="canary")) is None


def test_two_versions_matching_name_both():
    versions = [*VERSIONS, version("6", "v5", 500, stage="production")]
    with pytest.raises(RuleError, match="matches 2 versions of 'churn': 'v2', 'v5'"):
        production_of(MODEL, versions, Rule(property="stage", value="production"))


def test_a_property_of_another_type_is_named():
    versions = [version("7", "v6", 600, stage=0.5)]
    with pytest.raises(RuleError) as raised:
        production_of(MODEL, versions, Rule(property="stage", value="production"))
    # R013's message once read "version 'v6''s custom property": a quote doubled by the possessive
    assert str(raised.value) == "the custom property stage of version 'v6' is a MetadataDoubleValue, not a string"
    with pytest.raises(RuleError, match="the custom property owner_count of registered model 'churn' is a "
                                        "MetadataIntValue"):
        production_of(MODEL, VERSIONS, Rule(version_property="owner_count"))
