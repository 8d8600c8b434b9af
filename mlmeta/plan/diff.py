"""Compare what the catalog holds with what a spec asks for: field-by-field changes for people,
and the RFC 6902 JSON Patch that applies them (pure).

Each managed field is normalised before comparing, the way the server compares: features and
hyperparameters as unordered collections, references by name, tags by FQN and source. A field
that differs is sent whole (``add`` or ``remove``), so a patch never depends on list positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlmeta.plan.desired import Desired


@dataclass(frozen=True)
class Change:
    field: str
    kind: str  # "added", "changed" or "removed"
    summary: str
    before: Any = None
    after: Any = None
    item: str | None = None  # in a collection (features, hyperparameters): the item's name

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "kind": self.kind, "summary": self.summary, "before": self.before,
                "after": self.after, "item": self.item}


@dataclass
class ModelDiff:
    operations: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.operations

    @property
    def fingerprint_only(self) -> bool:
        """The catalog holds what the spec says; only mlmeta's fingerprint (sourceHash) differs."""
        return bool(self.operations) and all(op["path"] == "/sourceHash" for op in self.operations)


def _text(value: Any) -> Any:
    return value or None


def _refs_by_name(refs: Any) -> list[tuple[str, str]]:
    return sorted((r.get("type", ""), r.get("name") or r.get("fullyQualifiedName", "")) for r in refs or [] if r)


def _refs_by_fqn(refs: Any) -> list[str]:
    return sorted(r.get("fullyQualifiedName", "") for r in refs or [] if r)


def _labels(labels: Any) -> list[tuple[str, str]]:
    return sorted((t["tagFQN"], t.get("source", "Classification")) for t in labels or [])


def _drop_empty(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v not in (None, "", [], {})}


def _source(source: dict[str, Any]) -> str:
    data_source = source.get("dataSource") or {}
    return json.dumps(_drop_empty({"name": source.get("name"), "dataType": source.get("dataType"),
                                   "description": source.get("description"), "dataSource": data_source.get("id")}),
                      sort_keys=True)


def _feature(feature: dict[str, Any]) -> dict[str, Any]:
    return _drop_empty({"name": feature.get("name"), "dataType": feature.get("dataType"),
                        "description": feature.get("description"), "featureAlgorithm": feature.get("featureAlgorithm"),
                        "tags": _labels(feature.get("tags")),
                        "featureSources": sorted(_source(s) for s in feature.get("featureSources") or [])})


def _features(features: Any) -> dict[str, dict[str, Any]]:
    return {f["name"]: _feature(f) for f in features or []}


def _parameters(parameters: Any) -> dict[str, dict[str, Any]]:
    return {p["name"]: _drop_empty({"value": p.get("value"), "description": p.get("description")})
            for p in parameters or []}


NORMALISE = {
    "displayName": _text, "description": _text, "algorithm": _text, "target": _text, "server": _text,
    "sourceUrl": _text, "sourceHash": _text,
    "mlStore": lambda v: _drop_empty(v or {}) or None,
    "mlFeatures": _features, "mlHyperParameters": _parameters,
    "owners": _refs_by_name, "tags": _labels, "domains": _refs_by_fqn,
    "dashboard": lambda v: (v or {}).get("fullyQualifiedName"),
    "extension": lambda v: v or None,  # custom properties: values as typed (mlmeta's and others')
}
FIELD_ORDER = list(NORMALISE)


def diff(current: dict[str, Any], desired: Desired) -> ModelDiff:
    result = ModelDiff()
    for name in FIELD_ORDER:
        if name not in desired.fields:
            continue  # not managed: left as the catalog has it
        before, after = current.get(name), desired.fields[name]
        normalise = NORMALISE[name]
        if normalise(before) == normalise(after):
            continue
        empty_after = after in (None, "", [], {})
        if empty_after:
            if name not in current:
                continue
            result.operations.append({"op": "remove", "path": f"/{name}"})
        else:
            result.operations.append({"op": "add", "path": f"/{name}", "value": _patch_value(name, after)})
        result.changes += _describe(name, before, after)
    return result


def _patch_value(name: str, value: Any) -> Any:
    """References go in as {id, type}: the server fills in the rest."""
    if name in ("owners", "domains"):
        return [{"id": r["id"], "type": r["type"]} for r in value]
    if name == "dashboard":
        return {"id": value["id"], "type": value["type"]}
    return value


def _describe(name: str, before: Any, after: Any) -> list[Change]:
    kind = "added" if before in (None, "", [], {}) else "removed" if after in (None, "", [], {}) else "changed"
    if name == "mlFeatures":
        return _collection_changes("feature", _features(before), _features(after))
    if name == "mlHyperParameters":
        return _collection_changes("hyperparameter", _parameters(before), _parameters(after))
    if name == "description":
        return [Change(name, kind, f"description {kind} ({len(before or '')} -> {len(after or '')} characters)",
                       before, after)]
    if name == "sourceHash":
        return []  # mlmeta's own bookkeeping: written, not worth a line in a plan
    if name == "extension":
        old, new = before or {}, after or {}
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return [Change(name, "added" if k not in old else "removed" if k not in new else "changed",
                       f"custom property {k}: {_property(old.get(k))} -> {_property(new.get(k))}",
                       old.get(k), new.get(k)) for k in keys]
    shown_before, shown_after = NORMALISE[name](before), NORMALISE[name](after)
    show = _SHOW.get(name, _short)
    return [Change(name, kind, f"{name}: {show(shown_before)} -> {show(shown_after)}", shown_before, shown_after)]


def _show_owners(owners: list[tuple[str, str]]) -> str:
    return ", ".join(f"{kind}:{name}" for kind, name in owners) or "(none)"


def _show_tags(labels: list[tuple[str, str]]) -> str:
    return ", ".join(tag if source == "Classification" else f"glossary:{tag}" for tag, source in labels) or "(none)"


_SHOW = {"owners": _show_owners, "tags": _show_tags, "domains": lambda fqns: ", ".join(fqns) or "(none)"}


def _collection_changes(what: str, before: dict[str, dict], after: dict[str, dict]) -> list[Change]:
    field_name = "mlFeatures" if what == "feature" else "mlHyperParameters"
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            changes.append(Change(field_name, "added", f"{what} {name!r} added", None, new, name))
        elif new is None:
            changes.append(Change(field_name, "removed", f"{what} {name!r} removed", old, None, name))
        else:
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            changes.append(Change(field_name, "changed", f"{what} {name!r}: {', '.join(keys)} changed", old, new,
                                  name))
    return changes


def _property(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict) and "rows" in value:  # a table-cp value, e.g. the metrics
        return f"({len(value['rows'])} rows)"
    return _short(value, 40)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
