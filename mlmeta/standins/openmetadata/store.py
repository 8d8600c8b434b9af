"""The sandbox's state: entities by type, their version history and lineage edges.

Plain JSON-able dicts shaped like the server's entities, guarded by one lock (the HTTP server
is threaded), optionally persisted to a file after every write so a restart keeps what was
published - a private file (0600), since it holds the secret that signs the sandbox's tokens.
Seeding from a catalog file lives here too.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import secrets
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from mlmeta.catalog import fqn
from mlmeta import state as state_files
from mlmeta.errors import ConfigError
from mlmeta.catalog.releases import Capabilities, capabilities
from mlmeta.standins.openmetadata.schemas import DEFAULT_VERSION

# entity type -> collection path under /api/v1 (as the server names them)
COLLECTIONS = {
    "table": "tables",
    "topic": "topics",
    "dashboard": "dashboards",
    "mlmodel": "mlmodels",
    "database": "databases",
    "databaseSchema": "databaseSchemas",
    "user": "users",
    "team": "teams",
    "classification": "classifications",
    "tag": "tags",
    "glossary": "glossaries",
    "glossaryTerm": "glossaryTerms",
    "domain": "domains",
    "container": "containers",
    "dashboardDataModel": "dashboard/datamodels",
    "searchIndex": "searchIndexes",
    "type": "metadata/types",
    "mlmodelService": "services/mlmodelServices",
    "databaseService": "services/databaseServices",
    "dashboardService": "services/dashboardServices",
    "messagingService": "services/messagingServices",
    "storageService": "services/storageServices",
    "searchService": "services/searchServices",
}
TYPE_OF_COLLECTION = {collection: kind for kind, collection in COLLECTIONS.items()}
_NAMESPACE = uuid.UUID("6f1f2c1e-3b9e-4c55-9a7e-4d1f0c6f6b10")


class NotFound(Exception):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} instance for {key} not found")


def now_ms() -> int:
    return int(time.time() * 1000)


# The types the server loads from its own schemas at start: entity types custom properties extend, and
# the field types a property is of (see types.py).
ENTITY_TYPES = ("mlmodel", "table", "topic", "dashboard", "container", "dashboardDataModel", "searchIndex")
FIELD_TYPES = ("string", "integer", "number", "markdown", "email", "timestamp", "duration", "timeInterval", "enum",
               "table-cp", "date-cp", "dateTime-cp", "time-cp", "sqlQuery", "hyperlink-cp", "entityReference",
               "entityReferenceList")


class State:
    """Everything the sandbox knows. Callers hold ``lock`` across a read-modify-write."""

    def __init__(self, release: Capabilities | None = None) -> None:
        # the release played: not data (never saved), the switch every behaviour asks
        self.release = release or capabilities(DEFAULT_VERSION)
        self.lock = threading.RLock()
        self.entities: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in COLLECTIONS}
        self.by_fqn: dict[str, dict[str, str]] = {kind: {} for kind in COLLECTIONS}
        self.history: dict[str, list[dict[str, Any]]] = {}  # entity id -> previous versions, oldest first
        self.edges: dict[str, dict[str, Any]] = {}  # "from_id:to_id" -> {fromType, toType, details}
        self.secret = secrets.token_urlsafe(32)
        self.base_url = "http://localhost"

    # --- entities ---------------------------------------------------------------------------

    def put(self, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
        entity["href"] = f"{self.base_url}/api/v1/{COLLECTIONS[kind]}/{entity['id']}"
        self.entities[kind][entity["id"]] = entity
        self.by_fqn[kind][entity["fullyQualifiedName"]] = entity["id"]
        return entity

    def remove(self, kind: str, entity: dict[str, Any]) -> None:
        self.entities[kind].pop(entity["id"], None)
        self.by_fqn[kind].pop(entity["fullyQualifiedName"], None)
        self.history.pop(entity["id"], None)
        for key in [k for k, e in self.edges.items() if entity["id"] in (k.split(":"))]:
            del self.edges[key]

    def by_name(self, kind: str, name: str, *, include_deleted: bool = False) -> dict[str, Any]:
        index = self.by_fqn.get(kind, {})
        entity_id = index.get(name)
        if entity_id is None:
            try:  # the server accepts any spelling of the same FQN ("a".b == a.b)
                entity_id = index.get(fqn.normalize(name))
            except fqn.FqnError:
                entity_id = None
        return self.by_id(kind, entity_id or name, include_deleted=include_deleted, shown=name)

    def by_id(self, kind: str, entity_id: str, *, include_deleted: bool = False, shown: str | None = None
              ) -> dict[str, Any]:
        entity = self.entities.get(kind, {}).get(str(entity_id))
        if entity is None or (entity.get("deleted") and not include_deleted):
            raise NotFound(kind, shown or str(entity_id))
        return entity

    def find_any(self, entity_id: str) -> tuple[str, dict[str, Any]] | None:
        for kind, entities in self.entities.items():
            if entity_id in entities:
                return kind, entities[entity_id]
        return None

    def reference(self, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
        ref = {"id": entity["id"], "type": kind, "name": entity["name"],
               "fullyQualifiedName": entity["fullyQualifiedName"], "deleted": bool(entity.get("deleted")),
               "href": entity.get("href")}
        for key in ("displayName", "description"):
            if entity.get(key):
                ref[key] = entity[key]
        return ref

    # --- persistence ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({"entities": self.entities, "history": self.history, "edges": self.edges,
                              "secret": self.secret, "base_url": self.base_url})

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot; links (href) are moved to this server's address if it changed."""
        old_base = data.get("base_url")
        if old_base and old_base != self.base_url:
            data = json.loads(json.dumps(data).replace(old_base + "/api/", self.base_url + "/api/"))
        self.entities = {kind: dict(data["entities"].get(kind, {})) for kind in COLLECTIONS}
        self.by_fqn = {kind: {e["fullyQualifiedName"]: i for i, e in es.items()} for kind, es in self.entities.items()}
        self.history = data.get("history", {})
        self.edges = data.get("edges", {})
        self.secret = data.get("secret", self.secret)

    def save(self, path: Path) -> None:
        """Replace the state file, private to its user: it holds the secret that signs every token.
        Atomic, never through a symlink; not fsync'd, since a stand-in's state is not worth a
        disk flush on every write."""
        state_files.prepare(path)
        state_files.replace_file(path, json.dumps(self.snapshot()).encode("utf-8"), mode=state_files.PRIVATE_FILE,
                                 durable=False)

    # --- seeding ----------------------------------------------------------------------------

    def _seed_builtin_types(self) -> None:
        """The built-in types the server loads from its schemas at start (``table-cp`` from 1.5.7)."""
        for name in ENTITY_TYPES:
            self.add("type", name, {"category": "entity", "nameSpace": "data", "description": f"`{name}` entity type",
                                     "customProperties": []})
        for name in FIELD_TYPES:
            if name == "table-cp" and not self.release.has("table_cp"):
                continue
            self.add("type", name, {"category": "field", "nameSpace": "basic", "description": f"`{name}` type"})

    def seed(self, catalog: dict[str, Any]) -> None:
        """Add the entities a catalog file describes (see demo_catalog.yaml for the shape)."""
        self._seed_builtin_types()  # they come with every catalog
        for user in catalog.get("users", []):
            roles = [{"type": "role", "name": role, "fullyQualifiedName": role} for role in user.get("roles", [])]
            self.add("user", user["name"], {"email": user.get("email", f"{user['name']}@example.com"),
                                             "isBot": bool(user.get("isBot")), "isAdmin": bool(user.get("isAdmin")),
                                             **({"roles": roles} if roles else {})})
        for team in catalog.get("teams", []):
            users = [self.reference("user", self.by_name("user", u)) for u in team.get("users", [])]
            self.add("team", team["name"], {"teamType": "Group", "users": users})
        for classification in catalog.get("classifications", []):
            parent = self.add("classification", classification["name"], {
                "description": classification.get("description", f"{classification['name']} tags"),
                "mutuallyExclusive": bool(classification.get("mutuallyExclusive"))})
            for tag in classification.get("tags", []):
                self.add("tag", tag, {"description": f"{tag} tag",
                                       "classification": self.reference("classification", parent)}, parent)
        for glossary in catalog.get("glossaries", []):
            parent = self.add("glossary", glossary["name"], {"description": f"{glossary['name']} glossary"})
            for term in glossary.get("terms", []):
                self.add("glossaryTerm", term, {"description": f"{term} term",
                                                 "glossary": self.reference("glossary", parent)}, parent)
        for domain in catalog.get("domains", []):
            self.add("domain", domain["name"], {"domainType": domain.get("domainType", "Aggregate"),
                                                 "description": domain.get("description", f"{domain['name']} domain")})
        for service in catalog.get("mlmodelServices", []):
            self.add("mlmodelService", service["name"], {"serviceType": service.get("serviceType", "Mlflow")})
        for service in catalog.get("dashboardServices", []):
            self._seed_dashboard_service(service)
        for service in catalog.get("messagingServices", []):
            self._seed_messaging_service(service)
        for service in catalog.get("storageServices", []):
            parent = self.add("storageService", service["name"], {"serviceType": service["serviceType"]})
            for container in service.get("containers", []):
                self._seed_container(container, parent, self.reference("storageService", parent))
        for service in catalog.get("searchServices", []):
            parent = self.add("searchService", service["name"], {"serviceType": service["serviceType"]})
            for index in service.get("indexes", []):
                index_fqn = fqn.join(service["name"], index["name"])
                self.add("searchIndex", index["name"], {
                    "service": self.reference("searchService", parent), "serviceType": service["serviceType"],
                    "fields": self.children(index_fqn, index.get("fields"), display=False)}, parent)
        for service in catalog.get("databaseServices", []):
            self._seed_database_service(service)

    def _seed_dashboard_service(self, service: dict[str, Any]) -> None:
        parent = self.add("dashboardService", service["name"], {"serviceType": service["serviceType"]})
        service_ref = self.reference("dashboardService", parent)
        for dashboard in service.get("dashboards", []):
            self.add("dashboard", dashboard, {"service": service_ref}, parent)
        for model in service.get("dataModels", []):
            # the server names a data model "<service>.model.<name>" (DashboardDataModelRepository)
            model_fqn = fqn.join(service["name"], "model", model["name"])
            entity = {"id": str(uuid.uuid5(_NAMESPACE, f"dashboardDataModel:{model_fqn}")), "name": model["name"],
                      "fullyQualifiedName": model_fqn, "version": 0.1, "updatedAt": now_ms(), "updatedBy": "admin",
                      "deleted": False, "service": service_ref, "serviceType": service["serviceType"],
                      "dataModelType": model.get("dataModelType", "SupersetDataModel"),
                      "columns": self.children(model_fqn, model.get("columns"))}
            self.put("dashboardDataModel", entity)

    def _seed_messaging_service(self, service: dict[str, Any]) -> None:
        parent = self.add("messagingService", service["name"], {"serviceType": service["serviceType"]})
        for topic in service.get("topics", []):
            topic = {"name": topic} if isinstance(topic, str) else topic
            fields: dict[str, Any] = {"service": self.reference("messagingService", parent),
                                      "serviceType": service["serviceType"], "partitions": topic.get("partitions", 1)}
            if topic.get("fields") is not None:
                topic_fqn = fqn.join(service["name"], topic["name"])
                fields["messageSchema"] = {"schemaType": topic.get("schemaType", "Avro"),
                                           "schemaText": topic.get("schemaText", ""),
                                           "schemaFields": self.children(topic_fqn, topic["fields"], display=False)}
            self.add("topic", topic["name"], fields, parent)

    def _seed_container(self, container: dict[str, Any], parent: dict[str, Any], service_ref: dict[str, Any]) -> None:
        fields: dict[str, Any] = {"service": service_ref, "numberOfObjects": container.get("numberOfObjects", 0)}
        if parent.get("serviceType") is None:  # a nested container: its parent is a container
            fields["parent"] = self.reference("container", parent)
        container_fqn = fqn.join(*fqn.split(parent["fullyQualifiedName"]), container["name"])
        if container.get("columns") is not None:
            fields["dataModel"] = {"isPartitioned": bool(container.get("isPartitioned")),
                                   "columns": self.children(container_fqn, container["columns"])}
        made = self.add("container", container["name"], fields, parent)
        for child in container.get("children", []):
            self._seed_container(child, made, service_ref)

    def _seed_database_service(self, service: dict[str, Any]) -> None:
        svc = self.add("databaseService", service["name"], {"serviceType": service["serviceType"]})
        svc_ref = self.reference("databaseService", svc)
        for database in service.get("databases", []):
            db = self.add("database", database["name"], {"service": svc_ref}, svc)
            db_ref = self.reference("database", db)
            for schema in database.get("schemas", []):
                sch = self.add("databaseSchema", schema["name"], {"service": svc_ref, "database": db_ref}, db)
                sch_ref = self.reference("databaseSchema", sch)
                for table in schema.get("tables", []):
                    table_fqn = fqn.join(*fqn.split(sch["fullyQualifiedName"]), table["name"])
                    columns = [self.column(table_fqn, c) for c in table.get("columns", [])]
                    self.add("table", table["name"], {
                        "tableType": table.get("tableType", "Regular"), "columns": columns, "service": svc_ref,
                        "database": db_ref, "databaseSchema": sch_ref, "serviceType": service["serviceType"],
                        "deleted": bool(table.get("deleted"))}, sch)

    @staticmethod
    def column(table_fqn: str, column: dict[str, Any]) -> dict[str, Any]:
        """A column as the server returns it (its FQN, its type also for display)."""
        data_type = column["dataType"].upper()
        result = {"name": column["name"], "dataType": data_type, "dataTypeDisplay": data_type.lower(),
                  "fullyQualifiedName": f"{table_fqn}.{fqn.quote(column['name'])}", "tags": [],
                  "constraint": column.get("constraint", "NULL")}
        if column.get("description"):
            result["description"] = column["description"]
        if column.get("children"):
            result["children"] = [State.column(result["fullyQualifiedName"], c) for c in column["children"]]
        return result

    @staticmethod
    def children(parent_fqn: str, items: list[dict[str, Any]] | None, *, display: bool = True) -> list[dict[str, Any]]:
        """Columns (``display``: with dataTypeDisplay and constraint) or schema/index fields, nested
        ones named below their parent, as the server stores them."""
        result = []
        for item in items or []:
            if display:
                result.append(State.column(parent_fqn, item))
                continue
            child = {"name": item["name"], "dataType": item["dataType"].upper(),
                     "fullyQualifiedName": f"{parent_fqn}.{fqn.quote(item['name'])}", "tags": []}
            if item.get("children"):
                child["children"] = State.children(child["fullyQualifiedName"], item["children"], display=False)
            result.append(child)
        return result

    def add(self, kind: str, name: str, fields: dict[str, Any], parent: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        full_name = fqn.join(*fqn.split(parent["fullyQualifiedName"]), name) if parent else fqn.quote(name)
        entity = {"id": str(uuid.uuid5(_NAMESPACE, f"{kind}:{full_name}")), "name": name,
                  "fullyQualifiedName": full_name, "version": 0.1, "updatedAt": now_ms(), "updatedBy": "admin",
                  "deleted": False, **fields}
        return self.put(kind, entity)


def read_state_file(path: Path) -> dict[str, Any] | None:
    """What ``State.save`` wrote, or None when there is no such file yet. A file an older mlmeta
    left readable by others is tightened to 0600 (the signing secret in it forges admin tokens);
    a symlink in its place is refused, not followed."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _unusable_state(path, error) from None
    try:
        with os.fdopen(descriptor, "rb") as handle:
            if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) & 0o077:
                os.fchmod(handle.fileno(), state_files.PRIVATE_FILE)
            data = json.loads(handle.read())
    except (OSError, ValueError) as error:
        raise _unusable_state(path, error) from None
    if not isinstance(data, dict) or not isinstance(data.get("entities"), dict):
        raise _unusable_state(path, "not a sandbox state file (no entities)")
    return data


def _unusable_state(path: Path, error: OSError | ValueError | str) -> ConfigError:
    if isinstance(error, OSError) and error.errno == errno.ELOOP:
        error = "a symbolic link; the sandbox keeps its state (which holds its signing secret) in a file of its own"
    elif isinstance(error, OSError):
        error = error.strerror or str(error)
    return ConfigError("--state", f"cannot use {path}: {error}", hint="name another file, or remove this one to "
                                                                      "start from the seed catalog")


def load_catalog(path: Path | None) -> dict[str, Any]:
    source = path or Path(__file__).with_name("demo_catalog.yaml")
    with source.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
