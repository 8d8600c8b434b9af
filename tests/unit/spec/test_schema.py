"""The committed JSON Schema is current, and it agrees with validate where it can express a rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlmeta.spec.schema import json_schema_text
from tests.helpers.files import REPO

BROKEN = Path(__file__).parent / "broken"
# broken specs whose problem a JSON Schema can express (the others need YAML positions or rules)
EXPRESSIBLE = [
    "unknown_top_key", "unknown_feature_key", "unknown_source_key", "unknown_key_no_suggestion", "missing_version",
    "missing_name", "missing_feature_type", "unsupported_version", "name_is_number", "features_is_mapping",
    "feature_is_string", "empty_name", "invalid_feature_type", "invalid_data_type", "table_fqn_too_short",
    "fqn_empty_part", "fqn_unclosed_quote", "server_not_url", "tag_without_classification", "dashboard_fqn_parts",
    "invalid_stage", "hyperparameter_value_list", "owner_not_list", "source_without_reference",
]


def test_committed_schema_is_up_to_date():
    committed = (REPO / "mlmeta.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text(), "run: mlmeta schema -o mlmeta.schema.json"


def test_schema_is_draft_07():
    schema = json.loads(json_schema_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in json_schema_text() and "definitions" in schema


def _check(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(REPO / "mlmeta.schema.json"),
                           *map(str, files)], capture_output=True, text=True)


def test_schema_accepts_the_good_specs():
    result = _check(*sorted((REPO / "model_specs").glob("*.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_schema_rejects_what_it_can_express(name):
    result = _check(BROKEN / f"{name}.yaml")
    assert result.returncode == 1, result.stdout + result.stderr


def test_example_specs_bind_the_schema_for_editors():
    for path in (REPO / "model_specs").glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=../mlmeta.schema.json\n")
