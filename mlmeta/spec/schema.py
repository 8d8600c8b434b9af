"""The spec's JSON Schema, in the draft-07 dialect editors (yaml-language-server) understand best.

Generated from the pydantic models, so it cannot drift from what ``mlmeta validate`` accepts;
the repository commits the output as ``mlmeta.schema.json`` and a test fails when it is stale.
Cross-field rules (unique names, source shapes beyond "table or column") are only in validate.
"""

from __future__ import annotations

import json
from typing import Any

from mlmeta.spec.model import ModelSpec

SCHEMA_URI = "http://json-schema.org/draft-07/schema#"
SCHEMA_ID = "https://github.com/mlmeta/mlmeta/raw/main/mlmeta.schema.json"


def json_schema() -> dict[str, Any]:
    schema = ModelSpec.model_json_schema(ref_template="#/definitions/{model}", mode="validation")
    definitions = schema.pop("$defs", {})
    document = {"$schema": SCHEMA_URI, "$id": SCHEMA_ID, **schema}
    if definitions:
        document["definitions"] = definitions
    return document


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
