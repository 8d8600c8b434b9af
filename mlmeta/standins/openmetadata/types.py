"""The types API as the server has it (TypeResource, TypeRepository), and the ``extension``
check every entity write goes through (EntityRepository.validateExtension).

Types are entities too: entity types (``mlmodel``, ``table`` ...) that custom properties extend,
and field types (``string``, ``integer``, ``table-cp`` ...) that a property is of. ``PUT
/v1/metadata/types/{id}`` adds a property to an entity type, or replaces the property of that
name - and a replaced property whose type changed takes its stored values with it, on every
entity. An entity's ``extension`` may hold only properties its type defines, each value valid
for the property's type; otherwise the write is refused with a 400.
"""

from __future__ import annotations

import copy
from typing import Any

from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.store import NotFound, State, now_ms

def view(state: State, entity: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    result = copy.deepcopy(entity)
    result.pop("deleted", None)  # a type has no such field
    properties = result.pop("customProperties", None)
    if "customProperties" in fields and result["category"] == "entity":
        result["customProperties"] = [_with_type_reference(state, p) for p in properties or []]
    return result


def _with_type_reference(state: State, stored: dict[str, Any]) -> dict[str, Any]:
    field_type = state.by_name("type", stored["propertyType"])
    return {**{k: v for k, v in stored.items() if k != "propertyType"},
            "propertyType": {**state.reference("type", field_type), "type": "type"}}


def add_property(state: State, entity_type: dict[str, Any], body: dict[str, Any], user: dict[str, Any]
                 ) -> dict[str, Any]:
    """``addCustomProperty``: validate, then add the property or replace the one of that name."""
    try:
        field_type = state.by_id("type", str(body["propertyType"]["id"]))
    except NotFound:
        raise ApiError(404, f"type instance for {body['propertyType']['id']} not found") from None
    _check_config(field_type["name"], body.get("customPropertyConfig"))
    if entity_type["category"] == "field":
        raise ApiError(400, "Only entity types can be extended and field types can't be extended")
    stored = {k: v for k, v in body.items() if k != "propertyType"}
    stored["propertyType"] = field_type["name"]
    properties = entity_type.get("customProperties") or []
    previous = next((p for p in properties if p["name"] == body["name"]), None)
    if previous == stored:
        return entity_type
    if previous is not None and previous["propertyType"] != stored["propertyType"]:
        _forget_values(state, entity_type["name"], body["name"])  # deleteCustomProperty: its values go too
    kept = [p for p in properties if p["name"] != body["name"]]
    updated = {**entity_type, "customProperties": sorted([*kept, stored], key=lambda p: p["name"]),
               "version": round(entity_type["version"] + 0.1, 1), "updatedAt": now_ms(), "updatedBy": user["name"]}
    return state.put("type", updated)


def _check_config(type_name: str, config: dict[str, Any] | None) -> None:
    value = (config or {}).get("config")
    if type_name == "table-cp":
        if not isinstance(value, dict):
            raise ApiError(400, "Table Custom Property Type must have config populated.")
        columns = value.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 3:
            raise ApiError(400, "Custom Property table has invalid value columns size must be between 1 and 3")
        if len(set(columns)) != len(columns):
            raise ApiError(400, "Column names must be unique.")
    elif type_name == "enum":
        if not isinstance(value, dict) or not value.get("values"):
            raise ApiError(400, "Enum Custom Property Type must have EnumConfig populated with values.")
    elif type_name in ("date-cp", "dateTime-cp", "time-cp") and not value:
        raise ApiError(400, f"Invalid {type_name.removesuffix('-cp')} format must have Config populated with format.")


def _forget_values(state: State, entity_type: str, name: str) -> None:
    for entity in state.entities.get(entity_type, {}).values():
        extension = entity.get("extension")
        if isinstance(extension, dict) and name in extension:
            entity["extension"] = {k: v for k, v in extension.items() if k != name} or None


def check_extension(state: State, entity_type: str, extension: Any) -> None:
    """Refuse an ``extension`` naming a property the type does not define, or a value of the wrong shape."""
    if extension in (None, {}):
        return
    if not isinstance(extension, dict):
        raise ApiError(400, "Custom field extension has invalid JSON [must be an object]")
    defined = {p["name"]: p for p in state.by_name("type", entity_type).get("customProperties") or []}
    for name, value in extension.items():
        prop = defined.get(name)
        if prop is None:
            raise ApiError(400, f"Unknown custom field {name}")
        problem = _value_problem(prop, value)
        if problem:
            raise ApiError(400, f"Custom field {name} has invalid JSON [{problem}]")


def _value_problem(prop: dict[str, Any], value: Any) -> str | None:
    kind = prop["propertyType"]
    if kind in ("string", "markdown", "email", "sqlQuery", "date-cp", "dateTime-cp", "time-cp"):
        return None if isinstance(value, str) else f"$: {type(value).__name__} found, string expected"
    if kind in ("integer", "timestamp"):
        return None if isinstance(value, int) and not isinstance(value, bool) else \
            f"$: {type(value).__name__} found, integer expected"
    if kind == "number":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            f"$: {type(value).__name__} found, number expected"
    if kind == "table-cp":
        return _table_problem(prop, value)
    return None  # other types: accepted as sent (mlmeta writes none of them)


def _table_problem(prop: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) - {"columns", "rows"} or not isinstance(value.get("columns"), list):
        return "$: a table-cp value is {columns: [...], rows: [...]}"
    allowed = set(((prop.get("customPropertyConfig") or {}).get("config") or {}).get("columns") or [])
    if not set(value["columns"]) <= allowed:
        return f"$.columns: {sorted(set(value['columns']) - allowed)} are not columns of the property"
    for row in value.get("rows") or []:
        if not isinstance(row, dict) or not set(row) <= set(value["columns"]) or \
                not all(isinstance(v, str) for v in row.values()):
            return "$.rows: each row maps the value's columns to strings"
    return None
