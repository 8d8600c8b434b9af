"""Which catalog asset a dataset a training run logged comes from (pure, no server asked).

A training script that calls ``mlflow.log_input(dataset, context="training")`` records where the
data came from as a source type and a small JSON document: a Spark or Delta table name
(``{"table_name": ...}``, ``{"delta_table_name": ...}``), an object-store or file URI
(``{"uri": "s3://..."}``), an HTTP URL, a Hugging Face dataset, code. The rules of the project
file say how those names become OpenMetadata FQNs:

```toml
[tool.mlmeta.datasets.tables]      # a table name's leading parts -> the FQN parts they stand for
"postgres" = "demo_pg.postgres"    # postgres.public.users -> demo_pg.postgres.public.users
[tool.mlmeta.datasets.storage]     # a URI prefix -> the container that holds everything below it
"s3://ml-training/bot_detector" = "s3.ml-training.bot_detector"
```

A four-part table name needs no rule (it is read as a table FQN). Whatever no rule covers is
unmapped, with the reason: never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.errors import ConfigError
from mlmeta.registry.types import LoggedDataset

TRAINING_DATA_MODES = ("check", "lineage", "ignore")
ANY_TABLE = "*"
TABLE_PARTS = 4  # service.database.schema.table
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TABLE_KEYS = ("table_name", "delta_table_name", "table")  # spark, delta_table, and the like
_URI_KEYS = ("uri", "url", "path")


@dataclass(frozen=True)
class DatasetRules:
    tables: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()  # (name parts, FQN parts), "*" = ()
    storage: tuple[tuple[str, str], ...] = ()  # (URI prefix without a trailing slash, container FQN)
    # the project file the rules go in ("mlmeta.toml", "pyproject.toml"; None: there is none yet),
    # so that a hint names the section as that file spells it; not a rule, so never compared
    spelled_in: str | None = field(default=None, compare=False)

    @property
    def empty(self) -> bool:
        return not (self.tables or self.storage)

    def section(self, name: str) -> str:
        """Where rules of kind ``name`` (tables, storage) go, as the project's own file spells it."""
        if self.spelled_in == "pyproject.toml":
            return f"[tool.mlmeta.datasets.{name}] in pyproject.toml"
        if self.spelled_in is not None:
            return f"[datasets.{name}] in {self.spelled_in}"
        return f"[datasets.{name}] in mlmeta.toml ([tool.mlmeta.datasets.{name}] in pyproject.toml)"

    def as_dict(self) -> dict[str, Any]:
        """For the fingerprint: a rule that changes what a dataset maps to changes what publish draws."""
        return {"tables": {".".join(k) or ANY_TABLE: ".".join(v) for k, v in self.tables},
                "storage": dict(self.storage)}


@dataclass(frozen=True)
class MappedDataset:
    dataset: LoggedDataset
    kind: str | None = None  # the asset's spec key (table, container), None when unmapped
    fqn: str | None = None
    reason: str | None = None  # why it is unmapped

    @property
    def mapped(self) -> bool:
        return self.fqn is not None

    @property
    def shown_source(self) -> str:
        """The source as a person reads it: the table name or URI, else the source type."""
        document = _json(self.dataset.source)
        for key in _TABLE_KEYS + _URI_KEYS:
            if isinstance(document, dict) and isinstance(document.get(key), str):
                return document[key]
        return self.dataset.source_type or "unknown source"


def map_dataset(dataset: LoggedDataset, rules: DatasetRules) -> MappedDataset:
    document = _json(dataset.source)
    if not dataset.source:
        return MappedDataset(dataset, reason="MLflow records no source for it")
    if not isinstance(document, dict):
        return MappedDataset(dataset, reason=f"its source is not a JSON object ({dataset.source[:60]!r})")
    kind = dataset.source_type.lower()
    if kind in ("hugging_face", "huggingface"):
        name = document.get("path", "?")
        return MappedDataset(dataset, reason=f"a Hugging Face dataset ({name}) is no catalog asset")
    if kind == "code":
        return MappedDataset(dataset, reason="logged from code: MLflow records no data source for it")
    table = next((document[k] for k in _TABLE_KEYS if isinstance(document.get(k), str) and document[k]), None)
    if table is not None:
        return _table(dataset, table, rules)
    location = next((document[k] for k in _URI_KEYS if isinstance(document.get(k), str) and document[k]), None)
    if location is not None:
        return _location(dataset, location, rules)
    if document.get("sql"):
        return MappedDataset(dataset, reason="a SQL query: the tables it reads are not recorded")
    return MappedDataset(dataset, reason=f"no table name or URI in its {dataset.source_type or 'unknown'} source")


def _table(dataset: LoggedDataset, name: str, rules: DatasetRules) -> MappedDataset:
    parts = table_parts(name)
    if parts is None:
        return MappedDataset(dataset, reason=f"table name {name!r} is malformed")
    rule = max((r for r in rules.tables if tuple(p.casefold() for p in parts[:len(r[0])])
                == tuple(p.casefold() for p in r[0])), key=lambda r: len(r[0]), default=None)
    mapped = parts if rule is None else [*rule[1], *parts[len(rule[0]):]]
    if len(mapped) != TABLE_PARTS:
        how = (f"the rule {'.'.join(rule[0]) or ANY_TABLE!r} makes it {'.'.join(mapped)!r}, not" if rule else
               f"it has {len(parts)} part(s) and no rule under {rules.section('tables')} names its first ones, so "
               "it is not")
        return MappedDataset(dataset, reason=f"table {name!r}: {how} service.database.schema.table")
    return MappedDataset(dataset, "table", fqn.join(*mapped))


def _location(dataset: LoggedDataset, location: str, rules: DatasetRules) -> MappedDataset:
    uri = location if _URI.match(location) or location.startswith("file:") else (
        "file://" + location if location.startswith("/") else None)
    if uri is None:
        return MappedDataset(dataset, reason=f"{location!r} is a relative path: no catalog asset can hold it")
    uri = uri.rstrip("/")
    holding = [(prefix, container) for prefix, container in rules.storage
               if uri == prefix or uri.startswith(prefix + "/")]
    if not holding:
        return MappedDataset(dataset, reason=f"no rule under {rules.section('storage')} covers {uri}")
    return MappedDataset(dataset, "container", max(holding, key=lambda rule: len(rule[0]))[1])


def table_parts(name: str) -> list[str] | None:
    """A Spark/Delta table name's parts: dot-separated, a part in backticks may hold dots."""
    parts, current, quoted = [], "", False
    for char in name.strip():
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if quoted or any(not p or '"' in p for p in parts):
        return None
    return parts


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


# --- the project file --------------------------------------------------------------------------


def rules_from(table: dict[str, Any], setting: Callable[[str], str] = str,
               spelled_in: str | None = None) -> DatasetRules:
    """``[tool.mlmeta.datasets]`` as rules; a key that does not parse is a ConfigError naming it.
    ``setting`` turns a key's dotted path into the name a message shows (with the file it is in);
    ``spelled_in``: the project file's name (see ``DatasetRules.section``)."""
    for key in table:
        if key not in ("tables", "storage"):
            raise ConfigError(setting(f"datasets.{key}"), "unknown key; [datasets] has 'tables' and 'storage'")
    return DatasetRules(tables=tuple(_table_rules(table.get("tables", {}), "datasets.tables", setting)),
                        storage=tuple(_storage_rules(table.get("storage", {}), "datasets.storage", setting)),
                        spelled_in=spelled_in)


def _key(where: str, key: str) -> str:
    return f'{where}."{key}"' if not re.fullmatch(r"[A-Za-z0-9_-]+", key) else f"{where}.{key}"


def _table_rules(rules: Any, where: str,
                 setting: Callable[[str], str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    if not isinstance(rules, dict):
        raise ConfigError(setting(where), 'expected a table of "name prefix" = "FQN prefix"')
    parsed = []
    for key, value in rules.items():
        here = setting(_key(where, key))
        name = () if key == ANY_TABLE else table_parts(key)
        if name is None or len(name) >= TABLE_PARTS:
            raise ConfigError(here, f"expected {ANY_TABLE!r} or the first 1 to 3 parts of a table name, e.g. 'main' "
                                    "or 'main.sales'")
        if not isinstance(value, str):
            raise ConfigError(here, f"expected an FQN prefix such as 'my_service.my_database', got {value!r}")
        try:
            target = fqn.split(value)
        except fqn.FqnError as error:
            raise ConfigError(here, f"{value!r} is not an FQN prefix: {error}") from None
        if len(target) >= TABLE_PARTS:
            raise ConfigError(here, f"{value!r}: expected the first 1 to 3 parts of a table FQN "
                                    "(service, service.database or service.database.schema)")
        parsed.append((tuple(name), tuple(target)))
    return parsed


def _storage_rules(rules: Any, where: str, setting: Callable[[str], str]) -> list[tuple[str, str]]:
    if not isinstance(rules, dict):
        raise ConfigError(setting(where), 'expected a table of "URI prefix" = "container FQN"')
    parsed = []
    for key, value in rules.items():
        here = setting(_key(where, key))
        if not (_URI.match(key) or key.startswith("file:")):
            raise ConfigError(here, "expected a URI prefix with its scheme, e.g. 's3://bucket/folder' or "
                                    "'file:///data'")
        if not isinstance(value, str):
            raise ConfigError(here, f"expected a container FQN such as 'my_s3.my-bucket', got {value!r}")
        try:
            fqn.check_parts(value, (2, 99), "container")
        except fqn.FqnError as error:
            raise ConfigError(here, f"{value!r}: {error}") from None
        parsed.append((key.rstrip("/"), fqn.normalize(value)))
    return parsed
