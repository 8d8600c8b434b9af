"""What mlmeta reads from OpenMetadata, as plain data (no SDK import here).

Filled by ``mlmeta.adapters.openmetadata``; used by resolution, planning and applying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# OpenMetadata column types -> a feature source's dataType (the MlFeatureSource enum)
_SOURCE_TYPES = {
    "integer": ("INT", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT", "LONG", "MEDIUMINT"),
    "number": ("NUMBER", "NUMERIC", "DECIMAL", "FLOAT", "DOUBLE", "MONEY"),
    "string": ("CHAR", "VARCHAR", "TEXT", "MEDIUMTEXT", "STRING", "NTEXT", "UUID", "ENUM", "CLOB", "XML", "INET",
               "CIDR", "MACADDR"),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP", "TIMESTAMPZ", "DATETIME", "TIME"),
    "boolean": ("BOOLEAN",),
    "array": ("ARRAY",),
    "object": ("MAP", "STRUCT", "JSON", "RECORD", "VARIANT", "UNION", "SET"),
}
SOURCE_TYPE_OF_COLUMN = {column: source for source, columns in _SOURCE_TYPES.items() for column in columns}


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
class TableInfo:
    id: str
    fqn: str
    name: str
    deleted: bool
    columns: dict[str, str]  # column name -> OpenMetadata dataType

    @property
    def ref(self) -> Ref:
        return Ref(self.id, "table", self.name, self.fqn)


@dataclass(frozen=True)
class Edge:
    """An upstream lineage edge into a model."""

    from_id: str
    from_type: str
    from_fqn: str
    details: dict[str, Any] | None
    from_deleted: bool = False  # the source entity is soft-deleted (lineage reads include those)


class CatalogError(Exception):
    """The server answered with an error (status 0: no answer at all)."""

    def __init__(self, status: int, message: str, *, transient: bool = False, retried: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.transient = transient
        self.retried = retried  # the request had been sent before: an earlier try may have succeeded
