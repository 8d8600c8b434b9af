"""Rules a valid spec must follow beyond its shape: unique names, well-formed sources, files that
exist, names a person can trust (no bidirectional control, invisible or control character: S011;
such characters in free text are a warning, S012). Each rule reports a Finding at a path inside
the spec; the loader turns paths into lines and columns. Pure and offline: no server is asked
anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from mlmeta.catalog import fqn

from mlmeta import names
from mlmeta.catalog.records import FIELD_KINDS
from mlmeta.diagnostics import Severity
from mlmeta.registry.table import REGISTRIES
from mlmeta.spec import files
from mlmeta.spec.model import ASSET_KEYS, DataRef


@dataclass(frozen=True)
class Finding:
    loc: tuple
    code: str
    message: str
    severity: Severity = Severity.ERROR
    at_key: bool = False


def check(data: dict[str, Any], spec_dir: Path) -> list[Finding]:
    """Every rule over the spec's raw mapping. Values of the wrong shape are skipped here (the
    schema reports them), so a spec with several kinds of mistakes gets all of them in one run."""
    findings: list[Finding] = []
    findings += _check_description(data, spec_dir)
    findings += _check_mlflow(_mapping(data.get("mlflow")))
    findings += _check_kubeflow(_mapping(_mapping(data.get("kubeflow")).get("production")))
    findings += _check_production_named(data)
    findings += _check_features(_items(data.get("features")))
    findings += _check_sources(_items(data.get("label_sources")), ("label_sources",))
    findings += _check_outputs(_items(data.get("outputs")), _items(data.get("features")))
    findings += _check_unique(_items(data.get("tags")), ("tags",), "tag")
    findings += _check_unique(_items(data.get("glossary_terms")), ("glossary_terms",), "glossary term")
    owners = _mapping(data.get("owners"))
    findings += _check_unique(_items(owners.get("users")), ("owners", "users"), "user")
    findings += _check_unique(_items(owners.get("teams")), ("owners", "teams"), "team")
    for name in _mapping(data.get("hyperparameters")):
        if isinstance(name, str) and not name.strip():
            findings.append(Finding(("hyperparameters", name), "S004", "hyperparameter names cannot be empty",
                                    at_key=True))
    findings += _check_characters(data)
    return findings


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _check_description(data: dict[str, Any], spec_dir: Path) -> list[Finding]:
    if data.get("description") is not None and data.get("description_file") is not None:
        return [Finding(("description_file",), "S007", "set either 'description' or 'description_file', not both",
                        at_key=True)]
    target = _text(data.get("description_file"))
    if not (target and target.strip()):
        return []
    try:
        files.confine(spec_dir, target)
    except FileNotFoundError:
        return [Finding(("description_file",), "S009", f"file {target!r} not found next to the spec")]
    except files.OutsideRepository as problem:
        return [Finding(("description_file",), "F005", str(problem))]
    return []


def _check_production_named(data: dict[str, Any]) -> list[Finding]:
    """A spec naming a registry without a default Production marker must say what marks Production."""
    kind = REGISTRIES.get(data["registry"]) if isinstance(data.get("registry"), str) else None
    if kind is None or kind.has_default_production or _mapping(data.get(kind.spec_block)).get("production"):
        return []
    return [Finding(("registry",), "S002", f"{kind.label} has no aliases or stages: say in {kind.spec_block}"
                                           ".production what marks the Production version")]


def _check_mlflow(settings: dict[str, Any]) -> list[Finding]:
    # an explicit 'alias: null' together with 'stage: null' leaves no way to find Production
    if {"alias", "stage"} <= set(settings) and settings["alias"] is None and settings["stage"] is None:
        return [Finding(("mlflow",), "S007", "'alias' and 'stage' are both null: mlmeta could not tell which "
                                             "version is in Production; set at least one")]
    return []


def _check_kubeflow(rule: dict[str, Any]) -> list[Finding]:
    """Exactly one way of telling the Production version, complete."""
    if not rule:
        return []
    ways = [key for key in ("property", "label", "state", "version_property") if rule.get(key) is not None]
    loc = ("kubeflow", "production")
    if len(ways) != 1:
        return [Finding(loc, "S007", "say what marks Production in one way: property (with value), label, "
                                     "state: LIVE (with newest: true) or version_property"
                        + (f"; this says {' and '.join(ways)}" if ways else ""))]
    if ways == ["property"] and rule.get("value") is None:
        return [Finding(loc + ("property",), "S007", "'property' needs the 'value' the Production version holds")]
    if ways != ["property"] and rule.get("value") is not None:
        return [Finding(loc + ("value",), "S007", "'value' only goes with 'property'", at_key=True)]
    if ways == ["state"] and rule.get("newest") is not True:
        return [Finding(loc + ("state",), "S007", "LIVE says nothing alone: add newest: true "
                                                  "(the newest LIVE version is in Production)")]
    if ways != ["state"] and rule.get("newest") is not None:
        return [Finding(loc + ("newest",), "S007", "'newest' only goes with state: LIVE", at_key=True)]
    return []


def _check_features(features: list) -> list[Finding]:
    findings: list[Finding] = []
    first_seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        feature = _mapping(feature)
        name = _text(feature.get("name"))
        if name is not None:
            key = name.casefold()
            if key in first_seen:
                findings.append(Finding(("features", i, "name"), "S006",
                                        f"duplicate feature name {name!r} (same as features[{first_seen[key]}])"))
            else:
                first_seen[key] = i
        findings += _check_unique(_items(feature.get("tags")), ("features", i, "tags"), "tag")
        findings += _check_sources(_items(feature.get("sources")), ("features", i, "sources"))
    return findings


def _check_sources(sources: list, loc: tuple) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[tuple, int] = {}
    for j, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        problem = _source_problem(source)
        if problem:
            findings.append(Finding(loc + (j,) + problem[0], "S005" if problem[0] else "S007", problem[1]))
            continue
        try:
            identity = _identity(source)
        except fqn.FqnError:
            continue  # a malformed asset FQN: the schema reports it
        if identity in seen:
            what = {"sources": "source", "outputs": "output", "label_sources": "label source"}[loc[-1]]
            findings.append(Finding(loc + (j,), "S006", f"duplicate {what} (same as {loc[-1]}[{seen[identity]}])"))
        else:
            seen[identity] = j
    return findings


def _check_outputs(outputs: list, features: list) -> list[Finding]:
    """Outputs are shaped like sources; the features a prediction is computed from must be the spec's."""
    findings = _check_sources(outputs, ("outputs",))
    names = {_text(_mapping(f).get("name")) for f in features} - {None}
    for k, output in enumerate(outputs):
        for m, name in enumerate(_items(_mapping(output).get("features"))):
            if isinstance(name, str) and name not in names:
                findings.append(Finding(("outputs", k, "features", m), "S004",
                                        f"{name!r} is not a feature of this spec"))
    return findings


_ASSETS = "'table', 'topic', 'container', 'dashboard_data_model' or 'search_index'"


def _source_problem(source: dict[str, Any]) -> tuple[tuple, str] | None:
    """(path suffix, message) when the source's keys do not describe one asset or one of its children."""
    assets = [key for key in source if key in ASSET_KEYS and _text(source[key]) is not None]  # as written
    column, child_field = _text(source.get("column")), _text(source.get("field"))
    if len(assets) > 1:
        return (assets[1],), f"a source names one asset: {assets[0]!r} and {assets[1]!r} are both set"
    if not assets:
        if child_field is not None:
            return ("field",), "'field' needs the 'topic' or 'search_index' it is a field of"
        if column is None:
            return (), f"a source needs {_ASSETS} (with an optional 'column' or 'field'), or 'column' as a column FQN"
        try:
            fqn.check_parts(column, 5, "column")
        except fqn.FqnError as error:
            return ("column",), (f"{error}; without 'table', 'column' is a column FQN like "
                                 "'service.database.schema.table.column'")
        return None
    kind = assets[0]
    if child_field is not None and kind not in FIELD_KINDS:
        return ("field",), f"a {kind.replace('_', ' ')} has columns, not fields: use 'column'"
    if column is not None and kind in FIELD_KINDS:
        return ("column",), f"a {kind.replace('_', ' ')} has fields, not columns: use 'field' (a path like 'payload.user_id')"
    if column is not None and '"' in column:
        return ("column",), f"with {kind!r} set, 'column' is the column's plain name and cannot contain double quotes"
    if child_field is not None:
        try:
            fqn.split(child_field)
        except fqn.FqnError as error:
            return ("field",), f"{error}; a field path is dot-separated, a name containing a dot in double quotes"
    return None


class SourceIdentity(NamedTuple):
    """One source however it is written: the spec key of its asset kind, the asset's FQN, and the
    child's path below it (``None`` for the whole asset)."""

    kind: str
    asset: str
    child: str | None

    @property
    def name(self) -> str:
        """The feature source's name in the catalog: the child's path with its parts unquoted (the
        server refuses names containing a double quote), or the asset's own name."""
        if self.child is None:
            return fqn.split(self.asset)[-1]
        return ".".join(fqn.split(self.child))


def source_identity(source: DataRef) -> SourceIdentity:
    return _identity(source.model_dump(exclude_none=True))


def _identity(source: dict[str, Any]) -> SourceIdentity:
    kind = next((key for key in ASSET_KEYS if source.get(key) is not None), None)
    if kind is None:  # 'column' alone: a table column's FQN
        parts = fqn.split(source["column"])
        return SourceIdentity("table", fqn.join(*parts[:4]), fqn.quote(parts[4]))
    child = None
    if source.get("column") is not None:
        child = fqn.quote(source["column"])
    elif source.get("field") is not None:
        child = fqn.normalize(source["field"])
    return SourceIdentity(kind, fqn.normalize(source[kind]), child)


def _check_unique(values: list[str], loc: tuple, what: str) -> list[Finding]:
    findings, seen = [], {}
    for i, value in enumerate(values):
        if value in seen:
            findings.append(Finding(loc + (i,), "S006", f"duplicate {what} {value!r} (same as item {seen[value]})"))
        else:
            seen[value] = i
    return findings


# --- names a person can trust (mlmeta.names) -----------------------------------------------------

_ANY = "*"  # in a path below: any list index, or any key of a mapping whose keys the user names
_REFERENCES = (*ASSET_KEYS, "column", "field")
# Where a spec holds names: what the catalog shows as a name or an FQN, what a server matches, and
# the paths and URLs a reviewer reads. Every other string is free text.
NAME_PATHS = frozenset((
    ("name",), ("display_name",), ("service",), ("target",), ("server",), ("dashboard",), ("domain",),
    ("description_file",), ("mlflow", "registered_model"), ("mlflow", "alias"), ("kubeflow", "registered_model"),
    *(("kubeflow", "production", key) for key in ("property", "value", "label", "version_property")),
    ("owners", "users", _ANY), ("owners", "teams", _ANY), ("tags", _ANY), ("glossary_terms", _ANY),
    ("features", _ANY, "name"), ("features", _ANY, "tags", _ANY),
    *(("features", _ANY, "sources", _ANY, key) for key in _REFERENCES),
    *((where, _ANY, key) for where in ("label_sources", "outputs") for key in _REFERENCES),
    ("outputs", _ANY, "features", _ANY), ("hyperparameters", _ANY), ("model_card", "license"),
    ("model_card", "task"), ("ml_store", "storage"), ("ml_store", "image_repository"),
))
# mappings whose keys the user names, and what such a key is (a finding at a key is not prefixed by its path)
_FREE_KEYS = {("hyperparameters",): "hyperparameter name", ("model_card", "custom_sections"): "section title"}


def _check_characters(data: dict[str, Any]) -> list[Finding]:
    """S011 for a name holding a character that makes it read differently from what it is; S012
    (a warning) for free text holding one that reorders or hides text. A warning only: prose in
    right-to-left scripts may mean an embedding, and the reader of a description is shown the
    rendered text, not an identifier to act on."""
    findings = []
    for loc, value, at_key in _strings(data, ()):
        if not names.in_name(value):  # what free text may not hold, a name may not either: most strings stop here
            continue
        key = f"{_FREE_KEYS[loc[:-1]]}: " if at_key else ""
        if _is_name(loc):
            message = names.problem(value)
            if message:
                findings.append(Finding(loc, "S011", key + message, at_key=at_key))
        elif found := names.in_text(value):
            findings.append(Finding(loc, "S012", key + _text_problem(value, found), Severity.WARNING, at_key=at_key))
    return findings


def _strings(node: Any, loc: tuple) -> Any:
    """(path, string, whether it is a mapping key) for every string value, and every key the user names."""
    if isinstance(node, str):
        yield loc, node, False
    elif isinstance(node, dict):
        for key, value in node.items():
            if loc in _FREE_KEYS and isinstance(key, str):
                yield loc + (key,), key, True
            yield from _strings(value, loc + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _strings(item, loc + (i,))


def _is_name(loc: tuple) -> bool:
    shape = tuple(_ANY if isinstance(part, int) or loc[:i] in _FREE_KEYS else part for i, part in enumerate(loc))
    return shape in NAME_PATHS


def _text_problem(text: str, found: list[names.Unsafe]) -> str:
    first = found[0]
    line = text.count("\n", 0, first.index) + 1
    column = first.index - (text.rfind("\n", 0, first.index) + 1) + 1
    where = f"character {column}" + (f" of the text's line {line}" if "\n" in text else "")
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (f"{where} is {first.describe()}, {first.kind}{more}: what a reader sees may differ from what the text "
            "says; remove it unless it is meant")
