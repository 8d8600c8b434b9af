"""The OpenMetadata SDK's classes for the tests that hold the sandbox to it, imported on first use.

Importing the SDK costs seconds; a test module that names ``sdk.MlModel`` pays for it when one of
its tests runs, not when the module is collected (every xdist worker collects every module).
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "AddLineageRequest": "metadata.generated.schema.api.lineage.addLineage",
    "FeatureSource": "metadata.generated.schema.entity.data.mlmodel",
    "MlFeature": "metadata.generated.schema.entity.data.mlmodel",
    "MlModel": "metadata.generated.schema.entity.data.mlmodel",
    "Table": "metadata.generated.schema.entity.data.table",
    "EntitiesEdge": "metadata.generated.schema.type.entityLineage",
    "LineageDetails": "metadata.generated.schema.type.entityLineage",
    "EntityReference": "metadata.generated.schema.type.entityReference",
    "APIError": "metadata.ingestion.ometa.client",
    "RestTransportError": "metadata.ingestion.ometa.client",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(name)
    return getattr(importlib.import_module(_MODULES[name]), name)
