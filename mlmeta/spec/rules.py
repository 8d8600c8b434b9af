"""Rules a valid spec must follow beyond its shape: unique names, well-formed sources, files that
exist. Each rule reports a Finding at a path inside the spec; the loader turns paths into lines
and columns. Pure and offline: no server is asked anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlmeta import fqn
from mlmeta.diagnostics import Severity
from mlmeta.spec.model import ModelSpec, Source


@dataclass(frozen=True)
class Finding:
    loc: tuple
    code: str
    message: str
    severity: Severity = Severity.ERROR
    at_key: bool = False


def check(spec: ModelSpec, spec_dir: Path) -> list[Finding]:
    findings: list[Finding] = []
    findings += _check_description(spec, spec_dir)
    findings += _check_mlflow(spec)
    findings += _check_features(spec)
    findings += _check_unique(spec.tags or [], ("tags",), "tag")
    findings += _check_unique(spec.glossary_terms or [], ("glossary_terms",), "glossary term")
    if spec.owners:
        findings += _check_unique(spec.owners.users, ("owners", "users"), "user")
        findings += _check_unique(spec.owners.teams, ("owners", "teams"), "team")
    for name in spec.hyperparameters or {}:
        if not name.strip():
            findings.append(Finding(("hyperparameters", name), "S004", "hyperparameter names cannot be empty",
                                    at_key=True))
    return findings


def _check_description(spec: ModelSpec, spec_dir: Path) -> list[Finding]:
    if spec.description is not None and spec.description_file is not None:
        return [Finding(("description_file",), "S007", "set either 'description' or 'description_file', not both",
                        at_key=True)]
    if spec.description_file is not None:
        target = spec_dir / spec.description_file
        if not target.is_file():
            return [Finding(("description_file",), "S009",
                            f"file {spec.description_file!r} not found next to the spec")]
    return []


def _check_mlflow(spec: ModelSpec) -> list[Finding]:
    # an explicit 'alias: null' together with 'stage: null' leaves no way to find Production
    settings = spec.mlflow
    if {"alias", "stage"} <= settings.model_fields_set and settings.alias is None and settings.stage is None:
        return [Finding(("mlflow",), "S007", "'alias' and 'stage' are both null: mlmeta could not tell which "
                                             "version is in Production; set at least one")]
    return []


def _check_features(spec: ModelSpec) -> list[Finding]:
    findings: list[Finding] = []
    first_seen: dict[str, int] = {}
    for i, feature in enumerate(spec.features):
        key = feature.name.casefold()
        if key in first_seen:
            findings.append(Finding(("features", i, "name"), "S006",
                                    f"duplicate feature name {feature.name!r} (same as features[{first_seen[key]}])"))
        else:
            first_seen[key] = i
        findings += _check_unique(feature.tags or [], ("features", i, "tags"), "tag")
        seen_sources: dict[tuple, int] = {}
        for j, source in enumerate(feature.sources):
            loc = ("features", i, "sources", j)
            problem = _source_problem(source)
            if problem:
                findings.append(Finding(loc + problem[0], "S005" if problem[0] else "S007", problem[1]))
                continue
            identity = source_identity(source)
            if identity in seen_sources:
                findings.append(Finding(loc, "S006", f"duplicate source (same as sources[{seen_sources[identity]}])"))
            else:
                seen_sources[identity] = j
    return findings


def _source_problem(source: Source) -> tuple[tuple, str] | None:
    """(path suffix, message) when the source's keys do not describe a table or a column."""
    if source.table is None and source.column is None:
        return (), "a source needs 'column' (a column FQN) or 'table' (with an optional 'column' name)"
    if source.column is None:
        return None
    if source.table is None:
        try:
            fqn.check_parts(source.column, 5, "column")
        except fqn.FqnError as error:
            return ("column",), (f"{error}; without 'table', 'column' is a column FQN like "
                                 "'service.database.schema.table.column'")
        return None
    if '"' in source.column:
        return ("column",), "with 'table' set, 'column' is the column's plain name and cannot contain double quotes"
    return None


def source_identity(source: Source) -> tuple[str, str | None]:
    """(table FQN, column name or None): the same source however it is written."""
    if source.table is not None:
        return fqn.normalize(source.table), source.column
    parts = fqn.split(source.column or "")
    return fqn.join(*parts[:4]), parts[4]


def _check_unique(values: list[str], loc: tuple, what: str) -> list[Finding]:
    findings, seen = [], {}
    for i, value in enumerate(values):
        if value in seen:
            findings.append(Finding(loc + (i,), "S006", f"duplicate {what} {value!r} (same as item {seen[value]})"))
        else:
            seen[value] = i
    return findings
