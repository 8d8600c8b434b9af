"""Turn a spec's names into catalog references: tables and columns, owners, dashboard, domain.

Every failure is a diagnostic at the spec node that names the missing thing. Look-ups go
through the catalog adapter (cached per run, so a table shared by many specs is fetched once).
While the spec's feature sources are unchanged since the last publish (the entity's sourceHash
matches), the caller passes ``trusted`` and the references recorded in the entity are used
instead of being fetched again.
"""

from __future__ import annotations

import difflib
from typing import Any, Protocol

from mlmeta import fqn
from mlmeta.catalog import SOURCE_TYPE_OF_COLUMN, Ref, TableInfo
from mlmeta.diagnostics import Diagnostic
from mlmeta.plan.desired import Resolution, ResolvedSource
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.model import Source
from mlmeta.spec.rules import source_identity


class Catalog(Protocol):
    def table(self, fqn: str) -> TableInfo | None: ...

    def reference(self, kind: str, name: str) -> Ref | None: ...


def resolve(loaded: LoadedSpec, catalog: Catalog, current: dict[str, Any] | None, *,
            trusted: bool = False) -> tuple[Resolution, list[Diagnostic]]:
    resolution, problems = Resolution(), []
    recorded = _recorded_sources(current) if trusted else {}
    spec = loaded.spec
    for i, feature in enumerate(spec.features):
        for j, source in enumerate(feature.sources):
            table_fqn, column = source_identity(source)
            name = column or fqn.split(table_fqn)[-1]
            known = recorded.get((feature.name, table_fqn, name))
            if known is not None:
                resolution.sources[(i, j)] = known
                continue
            found = _source(loaded, catalog, ("features", i, "sources", j), source, table_fqn, column, problems)
            if found is not None:
                resolution.sources[(i, j)] = found
    if not trusted:
        problems += _missing_labels(loaded, catalog, current)
    if spec.owners is not None:
        resolution.owners = _owners(loaded, catalog, current, problems)
    if spec.dashboard is not None:
        resolution.dashboard = _named(loaded, catalog, current, "dashboard", spec.dashboard, ("dashboard",), problems)
    if spec.domain is not None:
        resolution.domain = _named(loaded, catalog, current, "domain", spec.domain, ("domain",), problems)
    return resolution, problems


def _recorded_sources(current: dict[str, Any] | None) -> dict[tuple, ResolvedSource]:
    trusted = {}
    for feature in (current or {}).get("mlFeatures") or []:
        for source in feature.get("featureSources") or []:
            data_source = source.get("dataSource") or {}
            if not data_source.get("id") or not data_source.get("fullyQualifiedName"):
                continue
            table = Ref(data_source["id"], data_source.get("type", "table"), data_source.get("name", ""),
                        data_source["fullyQualifiedName"])
            key = (feature["name"], fqn.normalize(table.fqn), source.get("name"))
            trusted[key] = ResolvedSource(table, source.get("name"), source.get("dataType"))
    return trusted


def _source(loaded: LoadedSpec, catalog: Catalog, loc: tuple, source: Source, table_fqn: str, column: str | None,
            problems: list[Diagnostic]) -> ResolvedSource | None:
    table_loc = loc + (("table",) if source.table is not None else ("column",))
    table = catalog.table(table_fqn)
    if table is None:
        problems.append(loaded.diagnostic(table_loc, "R001", f"table {table_fqn!r} not found in OpenMetadata"))
        return None
    if table.deleted:
        problems.append(loaded.diagnostic(table_loc, "R003", f"table {table_fqn!r} is deleted in OpenMetadata"))
        return None
    data_type = source.data_type
    if column is not None:
        if column not in table.columns:
            close = difflib.get_close_matches(column, list(table.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; it has: {', '.join(table.columns) or 'no columns'}"
            problems.append(loaded.diagnostic(loc + ("column",), "R002",
                                              f"column {column!r} not found in table {table_fqn!r}{hint}"))
            return None
        data_type = data_type or SOURCE_TYPE_OF_COLUMN.get(table.columns[column].upper())
    return ResolvedSource(table.ref, column or table.name, data_type)


def _missing_labels(loaded: LoadedSpec, catalog: Catalog, current: dict[str, Any] | None) -> list[Diagnostic]:
    """Every classification tag and glossary term the spec would write (model and features) must
    exist - checked here, before any write, so a typo is a finding at its line whatever the
    server's version does with unknown feature tags. Labels the entity already carries were
    accepted by the server when they were written: they are not looked up again."""
    spec = loaded.spec
    wanted = [(("tags", i), "tag", t) for i, t in enumerate(spec.tags or [])]
    wanted += [(("glossary_terms", i), "glossaryTerm", t) for i, t in enumerate(spec.glossary_terms or [])]
    wanted += [(("features", i, "tags", k), "tag", t) for i, f in enumerate(spec.features) for k, t in
               enumerate(f.tags or [])]
    present = _present_labels(current)
    problems = []
    for loc, kind, name in wanted:
        if fqn.normalize(name) in present or catalog.reference(kind, name) is not None:
            continue
        what = "glossary term" if kind == "glossaryTerm" else "tag"
        problems.append(loaded.diagnostic(loc, "R009", f"{what} {name!r} not found in OpenMetadata"))
    return problems


def _present_labels(current: dict[str, Any] | None) -> set[str]:
    labels = list((current or {}).get("tags") or [])
    labels += [t for f in (current or {}).get("mlFeatures") or [] for t in f.get("tags") or []]
    found = set()
    for label in labels:
        try:
            found.add(fqn.normalize(label["tagFQN"]))
        except (KeyError, fqn.FqnError):
            continue
    return found


def _owners(loaded: LoadedSpec, catalog: Catalog, current: dict[str, Any] | None,
            problems: list[Diagnostic]) -> list[Ref]:
    owners = loaded.spec.owners
    wanted = [("user", name, ("owners", "users", k)) for k, name in enumerate(owners.users)]
    wanted += [("team", name, ("owners", "teams", k)) for k, name in enumerate(owners.teams)]
    present = {(o.get("type"), o.get("name")): o for o in (current or {}).get("owners") or []}
    refs = []
    for kind, name, loc in wanted:
        known = present.get((kind, name))
        ref = Ref(known["id"], kind, name, known.get("fullyQualifiedName", name)) if known else \
            catalog.reference(kind, name)
        if ref is None:
            problems.append(loaded.diagnostic(loc, "R009", f"{kind} {name!r} not found in OpenMetadata"))
        else:
            refs.append(ref)
    return refs


def _named(loaded: LoadedSpec, catalog: Catalog, current: dict[str, Any] | None, kind: str, name: str, loc: tuple,
           problems: list[Diagnostic]) -> Ref | None:
    key = "domains" if kind == "domain" else kind
    present = (current or {}).get(key)
    for ref in present if isinstance(present, list) else [present]:
        if ref and fqn.normalize(ref.get("fullyQualifiedName", "")) == fqn.normalize(name):
            return Ref(ref["id"], kind, ref.get("name", name), ref["fullyQualifiedName"])
    found = catalog.reference(kind, name)
    if found is None:
        problems.append(loaded.diagnostic(loc, "R009", f"{kind} {name!r} not found in OpenMetadata"))
    return found
