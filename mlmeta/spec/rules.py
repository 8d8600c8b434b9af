"""Rules a valid spec must follow beyond its shape: unique names, well-formed sources, files that
exist. Each rule reports a Finding at a path inside the spec; the loader turns paths into lines
and columns. Pure and offline: no server is asked anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeta import fqn
from mlmeta.diagnostics import Severity
from mlmeta.spec.model import Source


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
    findings += _check_features(_items(data.get("features")))
    findings += _check_unique(_items(data.get("tags")), ("tags",), "tag")
    findings += _check_unique(_items(data.get("glossary_terms")), ("glossary_terms",), "glossary term")
    owners = _mapping(data.get("owners"))
    findings += _check_unique(_items(owners.get("users")), ("owners", "users"), "user")
    findings += _check_unique(_items(owners.get("teams")), ("owners", "teams"), "team")
    for name in _mapping(data.get("hyperparameters")):
        if isinstance(name, str) and not name.strip():
            findings.append(Finding(("hyperparameters", name), "S004", "hyperparameter names cannot be empty",
                                    at_key=True))
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
    if target and target.strip() and not (spec_dir / target).is_file():
        return [Finding(("description_file",), "S009", f"file {target!r} not found next to the spec")]
    return []


def _check_mlflow(settings: dict[str, Any]) -> list[Finding]:
    # an explicit 'alias: null' together with 'stage: null' leaves no way to find Production
    if {"alias", "stage"} <= set(settings) and settings["alias"] is None and settings["stage"] is None:
        return [Finding(("mlflow",), "S007", "'alias' and 'stage' are both null: mlmeta could not tell which "
                                             "version is in Production; set at least one")]
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
        table, column = _text(source.get("table")), _text(source.get("column"))
        problem = _source_problem(table, column)
        if problem:
            findings.append(Finding(loc + (j,) + problem[0], "S005" if problem[0] else "S007", problem[1]))
            continue
        try:
            identity = _identity(table, column)
        except fqn.FqnError:
            continue  # a malformed table FQN: the schema reports it
        if identity in seen:
            findings.append(Finding(loc + (j,), "S006", f"duplicate source (same as sources[{seen[identity]}])"))
        else:
            seen[identity] = j
    return findings


def _source_problem(table: str | None, column: str | None) -> tuple[tuple, str] | None:
    """(path suffix, message) when the source's keys do not describe a table or a column."""
    if table is None and column is None:
        return (), "a source needs 'column' (a column FQN) or 'table' (with an optional 'column' name)"
    if column is None:
        return None
    if table is None:
        try:
            fqn.check_parts(column, 5, "column")
        except fqn.FqnError as error:
            return ("column",), (f"{error}; without 'table', 'column' is a column FQN like "
                                 "'service.database.schema.table.column'")
        return None
    if '"' in column:
        return ("column",), "with 'table' set, 'column' is the column's plain name and cannot contain double quotes"
    return None


def source_identity(source: Source) -> tuple[str, str | None]:
    """(table FQN, column name or None): the same source however it is written."""
    return _identity(source.table, source.column)


def _identity(table: str | None, column: str | None) -> tuple[str, str | None]:
    if table is not None:
        return fqn.normalize(table), column
    parts = fqn.split(column or "")
    return fqn.join(*parts[:4]), parts[4]


def _check_unique(values: list[str], loc: tuple, what: str) -> list[Finding]:
    findings, seen = [], {}
    for i, value in enumerate(values):
        if value in seen:
            findings.append(Finding(loc + (i,), "S006", f"duplicate {what} {value!r} (same as item {seen[value]})"))
        else:
            seen[value] = i
    return findings
