"""The OpenMetadata SDK's generated models, without the SDK's start-up cost - in one place.

``openmetadata-ingestion`` ships the entity and API models generated from the server's JSON
Schemas (``metadata.generated.schema...``): mlmeta validates every request body with them, so a
body the server would refuse is refused here first, with the SDK's own field names. But the
top-level ``metadata/__init__.py`` imports the profiler and registers its metric registries and
source loaders (a dependency container): about 6 s and 200 MB before the first model loads, none
of which the generated models use.

So ``model()`` registers the ``metadata`` package *without running its ``__init__``* (a module
object made from the package's own spec, with its real ``__path__``), then imports the generated
modules normally. If anything later needs the whole SDK (the sandbox's contract tests drive the
``OpenMetadata`` client), ``full_sdk()`` runs the real ``__init__`` into that same module object,
so the package ends up exactly as a plain ``import metadata`` would have left it.

``tests/adapters/test_sdk.py`` fails when an SDK upgrade breaks either assumption: that the
generated models import without the ``__init__``, and that they match the pinned SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import warnings
from functools import lru_cache
from importlib import metadata as importlib_metadata
from typing import Any

PACKAGE = "metadata"
DISTRIBUTION = "openmetadata-ingestion"
_lock = threading.Lock()
_MODELS = {
    "CreateMlModel": ("metadata.generated.schema.api.data.createMlModel", "CreateMlModelRequest"),
    "CreateMlModelService": ("metadata.generated.schema.api.services.createMlModelService",
                             "CreateMlModelServiceRequest"),
    "AddLineage": ("metadata.generated.schema.api.lineage.addLineage", "AddLineageRequest"),
    "MlModel": ("metadata.generated.schema.entity.data.mlmodel", "MlModel"),
    "Table": ("metadata.generated.schema.entity.data.table", "Table"),
    "CreateTable": ("metadata.generated.schema.api.data.createTable", "CreateTableRequest"),
    "Topic": ("metadata.generated.schema.entity.data.topic", "Topic"),
    "CreateTopic": ("metadata.generated.schema.api.data.createTopic", "CreateTopicRequest"),
    "Container": ("metadata.generated.schema.entity.data.container", "Container"),
    "DashboardDataModel": ("metadata.generated.schema.entity.data.dashboardDataModel", "DashboardDataModel"),
    "SearchIndex": ("metadata.generated.schema.entity.data.searchIndex", "SearchIndex"),
    "Type": ("metadata.generated.schema.entity.type", "Type"),
    "CustomProperty": ("metadata.generated.schema.type.customProperty", "CustomProperty"),
}


def _bare_package() -> None:
    """Put the ``metadata`` package in sys.modules with its ``__init__`` not run (once)."""
    with _lock:
        if PACKAGE in sys.modules:
            return
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            from mlmeta.errors import ConfigError

            raise ConfigError(DISTRIBUTION, "not installed; mlmeta needs it to talk to OpenMetadata",
                              hint="pip install -c constraints.txt mlmeta")
        module = importlib.util.module_from_spec(spec)
        module.__mlmeta_bare__ = True  # type: ignore[attr-defined]
        sys.modules[PACKAGE] = module


@lru_cache(maxsize=None)
def model(name: str) -> Any:
    """One generated pydantic model by its short name (``CreateMlModel``, ``MlModel`` ...)."""
    _bare_package()
    module, attribute = _MODELS[name]
    return getattr(_import_quietly(module), attribute)


def full_sdk() -> None:
    """Make ``metadata`` the complete package (run its real ``__init__`` if it was skipped)."""
    with _lock:
        module = sys.modules.get(PACKAGE)
        if module is None or not getattr(module, "__mlmeta_bare__", False):
            return
        del module.__mlmeta_bare__
        module.__spec__.loader.exec_module(module)


def version() -> str:
    """The installed SDK's version, e.g. ``2.0.7.0``."""
    return importlib_metadata.version(DISTRIBUTION)


def major_minor(version_text: str) -> str:
    return ".".join(version_text.split(".")[:2])


def _import_quietly(name: str) -> Any:
    """Import without the SDK's import-time warnings reaching the user (pydantic deprecations)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)
