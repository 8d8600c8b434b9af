"""Each OpenMetadata release's own schemas, as the validator of every body the sandbox receives.

Every release of ``openmetadata-ingestion`` on PyPI ships ``metadata/generated/``: the pydantic
models generated from that release's JSON Schemas, ``extra='forbid'``, so a field the release
does not know is refused as the server refuses it. To play a release, the sandbox takes the
wheel of that minor (the newest patch, ``WHEELS``), once, into a cache folder - downloaded with
``pip download --no-deps``, never installed - and extracts only that tree.

Two things make several releases live side by side in one process, next to an installed SDK of
any version:

- the tree is extracted under a package of its own (``omschema_1_5_15_2``): its absolute
  imports (``from metadata.generated...``) are rewritten to that name;
- the one module outside the tree the generated code imports, ``custom_pydantic`` (``BaseModel``
  and ``CustomSecretStr``), is replaced by ``SHIM``: plain pydantic. The SDK's own version adds
  client-side conveniences the server does not have (serialisation helpers; from 1.6 on, a
  name transform that turns reserved characters into placeholders through a table importing
  the profiler), so plain pydantic validates as the server's Jackson parsing does.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
# pip, run with a fixed argv to fetch a release's wheel (B404)
import subprocess  # nosec B404
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from mlmeta.errors import MlmetaError
from mlmeta.catalog.releases import Version, parse_version

# the newest patch of each minor on PyPI (pip index versions openmetadata-ingestion, 2026-12-02)
WHEELS: dict[tuple[int, int], str] = {
    (1, 5): "1.5.15.2", (1, 6): "1.6.13.2", (1, 7): "1.7.7.4", (1, 8): "1.8.12.0", (1, 9): "1.9.17.6",
    (1, 10): "1.10.14.7", (1, 11): "1.11.14.0", (1, 12): "1.12.14.2", (1, 13): "1.13.6.3", (2, 0): "2.0.7.0",
}
# the newest release, played unless told otherwise: a server reports three numbers (2.0.7)
DEFAULT_VERSION = ".".join(WHEELS[max(WHEELS)].split(".")[:3])
DISTRIBUTION = "openmetadata-ingestion"
# short name -> (module below metadata.generated.schema, class)
MODELS = {
    "CreateMlModel": ("api.data.createMlModel", "CreateMlModelRequest"),
    "CreateMlModelService": ("api.services.createMlModelService", "CreateMlModelServiceRequest"),
    "AddLineage": ("api.lineage.addLineage", "AddLineageRequest"),
    "MlModel": ("entity.data.mlmodel", "MlModel"),
    "Table": ("entity.data.table", "Table"),
    "CreateTable": ("api.data.createTable", "CreateTableRequest"),
    "Topic": ("entity.data.topic", "Topic"),
    "CreateTopic": ("api.data.createTopic", "CreateTopicRequest"),
    "Container": ("entity.data.container", "Container"),
    "DashboardDataModel": ("entity.data.dashboardDataModel", "DashboardDataModel"),
    "SearchIndex": ("entity.data.searchIndex", "SearchIndex"),
    "Type": ("entity.type", "Type"),
    "CustomProperty": ("type.customProperty", "CustomProperty"),
}
SHIM = '''"""Written by mlmeta in place of the SDK's custom_pydantic: plain pydantic, as the server parses."""
from typing import Annotated

from pydantic import BaseModel, PlainSerializer, SecretStr

CustomSecretStr = Annotated[SecretStr, PlainSerializer(lambda secret: secret.get_secret_value())]
'''
_IMPORTS = re.compile(r"\bmetadata\.(generated|ingestion\.models\.custom_pydantic)\b")
_RENAMED = {"generated": "generated", "ingestion.models.custom_pydantic": "custom_pydantic"}
_lock = threading.Lock()


class ReleaseUnavailable(MlmetaError):
    """The release's wheel could not be had (no pip, no network to the package index): exit 2."""

    hint = ("the sandbox fetches each release's schemas once with pip from the package index; run it where the "
            "index is reachable, or set MLMETA_CACHE to a folder that already holds them")


def wheel_for(version: Version) -> str:
    """The wheel whose schemas stand for this server version: its minor's, else the nearest older one."""
    minor = max((m for m in WHEELS if m <= version.minor), default=min(WHEELS))
    return WHEELS[minor]


def cache_root() -> Path:
    return Path(os.environ.get("MLMETA_CACHE") or Path.home() / ".cache" / "mlmeta") / "openmetadata-schemas"


def package_name(wheel_version: str) -> str:
    return "omschema_" + wheel_version.replace(".", "_")


def ensure(wheel_version: str, *, log: Callable[[str], None] | None = None) -> Path:
    """The folder holding the extracted package (put on sys.path); downloaded on first use."""
    root = cache_root()
    target = root / wheel_version
    if (target / ".complete").exists():
        return target
    with _lock:
        if (target / ".complete").exists():
            return target
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as scratch:
            if log:
                log(f"fetching the schemas of OpenMetadata {wheel_version} ({DISTRIBUTION} wheel, about 21 MB, once)")
            wheel = _download(wheel_version, Path(scratch))
            staged = Path(scratch) / "tree"
            _extract(wheel, staged / package_name(wheel_version))
            (staged / ".complete").write_text(wheel.name + "\n", encoding="utf-8")
            if (target / ".complete").exists():  # another process finished first
                return target
            if target.exists():  # an unfinished earlier attempt
                shutil.rmtree(target)
            os.replace(staged, target)
    return target


def _download(wheel_version: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", str(folder), f"{DISTRIBUTION}=={wheel_version}"]
    try:
        # argv built from constants and a checked version: pip downloads one pinned wheel (B603)
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)  # nosec B603
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReleaseUnavailable(f"could not run pip to fetch {DISTRIBUTION}=={wheel_version}: {error}") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        reason = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ReleaseUnavailable(f"could not fetch {DISTRIBUTION}=={wheel_version} from the package index: {reason}")
    return wheels[0]


def _extract(wheel: Path, package: Path) -> None:
    """Only ``metadata/generated/``, imports rewritten to ``package``'s name, plus the shim."""
    name = package.name
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if not member.startswith("metadata/generated/") or member.endswith("/"):
                continue
            destination = package / member[len("metadata/"):]
            destination.parent.mkdir(parents=True, exist_ok=True)
            data = archive.read(member)
            if member.endswith(".py"):
                data = _IMPORTS.sub(lambda m: f"{name}.{_RENAMED[m.group(1)]}", data.decode("utf-8")).encode("utf-8")
            destination.write_bytes(data)
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch(exist_ok=True)  # namespace folders become regular packages
    (package / "custom_pydantic.py").write_text(SHIM, encoding="utf-8")


class ReleaseSchemas:
    """The generated models of one release, loaded on demand."""

    def __init__(self, server_version: str, *, log: Callable[[str], None] | None = None) -> None:
        self.version = parse_version(server_version)
        self.wheel = wheel_for(self.version)
        folder = ensure(self.wheel, log=log)
        with _lock:
            if str(folder) not in sys.path:
                sys.path.append(str(folder))
        self.package = package_name(self.wheel)

    @cache  # noqa: B019 - one instance per release, kept for the process
    def model(self, name: str) -> Any:
        module, attribute = MODELS[name]
        return getattr(importlib.import_module(f"{self.package}.generated.schema.{module}"), attribute)

    def fields(self, name: str) -> set[str]:
        return set(self.model(name).model_fields)


_loaded: dict[str, ReleaseSchemas] = {}


def schemas(server_version: str, *, log: Callable[[str], None] | None = None) -> ReleaseSchemas:
    """The schemas of the release a server of this version runs (one object per wheel, per process)."""
    wheel = wheel_for(parse_version(server_version))
    with _lock:
        found = _loaded.get(wheel)
    if found is None:
        found = ReleaseSchemas(server_version, log=log)
        with _lock:
            found = _loaded.setdefault(wheel, found)
    return found
