"""The SDK import shortcut (mlmeta.adapters.sdk): fails when an SDK upgrade breaks its assumptions.

Each check runs in a fresh interpreter, where ``metadata`` has not been imported yet.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def fresh_python(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_generated_models_load_without_the_packages_init():
    found = fresh_python("""
import json, sys
from mlmeta.adapters import sdk
names = ["CreateMlModel", "CreateMlModelService", "AddLineage", "MlModel", "Table"]
models = {name: sdk.model(name) for name in names}
imported_profiler = "metadata.profiler" in sys.modules
request = models["CreateMlModel"].model_validate({"name": "m", "service": "s", "algorithm": "GBR",
    "mlFeatures": [{"name": "f", "dataType": "numerical"}]})
print(json.dumps({
    "bare": getattr(sys.modules["metadata"], "__mlmeta_bare__", False),
    "profiler_on_import": imported_profiler,
    # the SDK's base model renames entity names on validation, through a table that imports the profiler:
    # mlmeta's adapter does not validate with these models for that reason (see adapters/openmetadata.py)
    "profiler_on_validation": "metadata.profiler" in sys.modules,
    "container": hasattr(sys.modules["metadata"], "container"),
    "classes": {n: m.__name__ for n, m in models.items()},
    "body": json.loads(request.model_dump_json(exclude_none=True))}))
""")
    assert found["bare"] is True and not found["profiler_on_import"] and not found["container"]
    assert found["profiler_on_validation"]  # if this fails, the adapter could validate bodies cheaply again
    assert found["classes"] == {"CreateMlModel": "CreateMlModelRequest", "CreateMlModelService":
                                "CreateMlModelServiceRequest", "AddLineage": "AddLineageRequest", "MlModel": "MlModel",
                                "Table": "Table"}
    assert found["body"]["mlFeatures"] == [{"name": "f", "dataType": "numerical"}]


def test_full_sdk_completes_the_package_as_a_plain_import_would():
    found = fresh_python("""
import json, sys
from mlmeta.adapters import sdk
sdk.model("MlModel")
sdk.full_sdk()
import metadata
from metadata.ingestion.ometa.ometa_api import OpenMetadata
print(json.dumps({"bare": getattr(metadata, "__mlmeta_bare__", False), "container": hasattr(metadata, "container"),
                  "client": OpenMetadata.__name__}))
""")
    assert found == {"bare": False, "container": True, "client": "OpenMetadata"}


def test_a_plain_import_first_leaves_the_package_alone():
    found = fresh_python("""
import json, warnings
warnings.simplefilter("ignore")
import metadata
from mlmeta.adapters import sdk
sdk.model("CreateMlModel")
sdk.full_sdk()
print(json.dumps({"bare": getattr(metadata, "__mlmeta_bare__", False), "container": hasattr(metadata, "container")}))
""")
    assert found == {"bare": False, "container": True}


def test_the_version_rule_is_major_minor():
    from mlmeta.adapters import sdk

    assert sdk.major_minor("2.0.7.0") == sdk.major_minor("2.0.5") == "2.0"
    assert sdk.version().startswith("2.0.")
