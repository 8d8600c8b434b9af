"""What mlmeta reads from OpenMetadata, as plain data (no SDK import here).

Filled by ``mlmeta.catalog.openmetadata``; used by resolution, planning and applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlmeta.catalog import fqn

# The catalog's child types -> a feature source's dataType (the MlFeatureSource enum): table and
# data-model columns (column dataType), topic schema fields (Avro / JSON Schema / Protobuf field
# types) and search index fields share one table, as their names do not collide in meaning.
_SOURCE_TYPES = {
    "integer": ("INT", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT", "LONG", "MEDIUMINT", "INTEGER", "SHORT", "BYTE"),
    "number": ("NUMBER", "NUMERIC", "DECIMAL", "FLOAT", "DOUBLE", "MONEY", "HALF_FLOAT", "SCALED_FLOAT"),
    "string": ("CHAR", "VARCHAR", "TEXT", "MEDIUMTEXT", "STRING", "NTEXT", "UUID", "ENUM", "CLOB", "XML", "INET",
               "CIDR", "MACADDR", "KEYWORD", "BYTES", "FIXED", "IP"),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP", "TIMESTAMPZ", "DATETIME", "TIME"),
    "boolean": ("BOOLEAN",),
    "array": ("ARRAY",),
    "object": ("MAP", "STRUCT", "JSON", "RECORD", "VARIANT", "UNION", "SET", "OBJECT", "NESTED"),
}
SOURCE_TYPE_OF_COLUMN = {column: source for source, columns in _SOURCE_TYPES.items() for column in columns}

# The asset kinds a feature may come from: the spec's key -> the entity type, and whether its
# children are named "columns" (tables, containers' data models, dashboard data models) or
# "fields" (topic schemas, search indexes)
ASSET_KINDS = {"table": "table", "topic": "topic", "container": "container",
               "dashboard_data_model": "dashboardDataModel", "search_index": "searchIndex"}
FIELD_KINDS = ("topic", "search_index")


@dataclass(frozen=True)
class Ref:
    """An entity reference: enough to point at an entity and to show it."""

    id: str
    type: str
    name: str
    fqn: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "name": self.name, "fullyQualifiedName": self.fqn}


@dataclass(frozen=True)
class Asset:
    """A data asset a feature can come from, with its children: columns, or schema fields, by their
    path below the asset (the child's FQN without the asset's: ``user_id``, ``payload.user_id``)."""

    id: str
    type: str  # the entity type: table, topic, container, dashboardDataModel, searchIndex
    fqn: str
    name: str
    deleted: bool
    children: dict[str, str]  # child path -> the catalog's dataType, nested children included

    @property
    def ref(self) -> Ref:
        return Ref(self.id, self.type, self.name, self.fqn)

    def child_fqn(self, path: str) -> str:
        return f"{self.fqn}.{path}"


def flatten_children(children: list[dict] | None, prefix: str = "") -> dict[str, str]:
    """Columns or schema fields, nested ones too, as {path: dataType}; each path is the child's name
    quoted as an FQN part, joined with its parents' (how the server names children)."""
    found: dict[str, str] = {}
    for child in children or []:
        name = child.get("name")
        if not isinstance(name, str) or not name or '"' in name:
            continue  # no FQN part can hold a double quote: no spec can name it
        path = prefix + fqn.quote(name)
        found[path] = str(child.get("dataType") or "")
        found.update(flatten_children(child.get("children"), path + "."))
    return found


@dataclass(frozen=True)
class Edge:
    """A lineage edge of a model: from an asset into it (upstream), or from it to an asset where its
    predictions land (``downstream``). ``asset_*`` is the end that is not the model."""

    asset_id: str
    asset_type: str
    asset_fqn: str
    details: dict[str, Any] | None
    asset_deleted: bool = False  # the asset is soft-deleted (lineage reads include those)
    downstream: bool = False


class CatalogError(Exception):
    """The server answered with an error (status 0: no answer at all)."""

    def __init__(self, status: int, message: str, *, transient: bool = False, retried: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.transient = transient
        self.retried = retried  # the request had been sent before: an earlier try may have succeeded
