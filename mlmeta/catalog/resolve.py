"""Turn a spec's names into catalog references: source assets and their columns or fields, owners,
dashboard, domain.

Every failure is a diagnostic at the spec node that names the missing thing. Look-ups go
through the catalog adapter (cached per run, so a table shared by many specs is fetched once).
While the spec's feature sources are unchanged since the last publish (the entity's sourceHash
matches), the caller passes ``trusted`` and the references recorded in the entity are used
instead of being fetched again.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any, Protocol

from mlmeta.catalog import fqn
from mlmeta.catalog.records import ASSET_KINDS, FIELD_KINDS, SOURCE_TYPE_OF_COLUMN, Asset, Ref
from mlmeta.diagnostics import Diagnostic
from mlmeta.plan.desired import Resolution, ResolvedSource
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.model import DataRef
from mlmeta.spec.rules import SourceIdentity, source_identity


class Catalog(Protocol):
    def asset(self, kind: str, fqn: str) -> Asset | None: ...

    def reference(self, kind: str, name: str) -> Ref | None: ...

    def names(self, kind: str, parent: str | None = None) -> list[str]: ...


def resolve(loaded: LoadedSpec, catalog: Catalog, current: dict[str, Any] | None, *,
            trusted: bool = False) -> tuple[Resolution, list[Diagnostic]]:
    resolution, problems = Resolution(), []
    recorded = _recorded_sources(current) if trusted else {}
    spec = loaded.spec
    for i, feature in enumerate(spec.features):
        for j, source in enumerate(feature.sources):
            identity = source_identity(source)
            known = recorded.get((feature.name, ASSET_KINDS[identity.kind], identity.asset, identity.name))
            if known is not None:  # the spec says whether it names a child: the catalog's record cannot
                child_fqn = None if identity.child is None else known.asset.fqn + "." + identity.child
                resolution.sources[(i, j)] = replace(known, child_fqn=child_fqn)
                continue
            found = _source(loaded, catalog, ("features", i, "sources", j), source, identity, problems)
            if found is not None:
                resolution.sources[(i, j)] = found
    for k, label in enumerate(spec.label_sources or []):
        found = _source(loaded, catalog, ("label_sources", k), label, source_identity(label), problems)
        if found is not None:
            resolution.labels.append(found)
    for k, output in enumerate(spec.outputs or []):
        found = _source(loaded, catalog, ("outputs", k), output, source_identity(output), problems)
        if found is not None:
            resolution.outputs[k] = found
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
            if not data_source.get("id") or not data_source.get("fullyQualifiedName") or not source.get("name"):
                continue
            asset = Ref(data_source["id"], data_source.get("type", "table"), data_source.get("name", ""),
                        data_source["fullyQualifiedName"])
            key = (feature["name"], asset.type, fqn.normalize(asset.fqn), source["name"])
            trusted[key] = ResolvedSource(asset, source["name"], source.get("dataType"))
    return trusted


_WHAT = {"table": "table", "topic": "topic", "container": "container", "dashboard_data_model": "dashboard data model",
         "search_index": "search index"}


def _source(loaded: LoadedSpec, catalog: Catalog, loc: tuple, source: DataRef, identity: SourceIdentity,
            problems: list[Diagnostic]) -> ResolvedSource | None:
    kind, what = identity.kind, _WHAT[identity.kind]
    asset_loc = loc + ((kind,) if getattr(source, kind) is not None else ("column",))
    asset = catalog.asset(ASSET_KINDS[kind], identity.asset)
    if asset is None:
        hint = _asset_hint(catalog, ASSET_KINDS[kind], identity.asset)
        problems.append(loaded.diagnostic(asset_loc, "R001",
                                          f"{what} {identity.asset!r} not found in OpenMetadata{hint}"))
        return None
    if asset.deleted:
        problems.append(loaded.diagnostic(asset_loc, "R003", f"{what} {identity.asset!r} is deleted in OpenMetadata"))
        return None
    if identity.child is None:
        return ResolvedSource(asset.ref, asset.name, getattr(source, "data_type", None))
    child_key, child_what = ("field", "field") if kind in FIELD_KINDS else ("column", "column")
    if identity.child not in asset.children:
        problems.append(loaded.diagnostic(loc + (child_key,), "R002", f"{child_what} {identity.child!r} not found in "
                                                                      f"{what} {identity.asset!r}"
                                                                      f"{_hint(identity.child, asset)}"))
        return None
    data_type = getattr(source, "data_type", None) or SOURCE_TYPE_OF_COLUMN.get(asset.children[identity.child].upper())
    return ResolvedSource(asset.ref, identity.name, data_type, asset.child_fqn(identity.child))


def _hint(child: str, asset: Asset) -> str:
    close = _did_you_mean(child, list(asset.children))
    if close:
        return close
    shown = list(asset.children)[:12]
    more = ", ..." if len(asset.children) > len(shown) else ""
    return f"; it has: {', '.join(shown) + more}" if shown else "; it has none (no schema in the catalog)"


def _asset_hint(catalog: Catalog, kind: str, name: str) -> str:
    """A "did you mean" among the assets beside the missing one: a table's schema, another asset's service."""
    parts = fqn.split(name)
    parent = fqn.join(*parts[:-1]) if kind == "table" else parts[0]
    return _did_you_mean(name, catalog.names(kind, parent))


def service_hint(catalog: Catalog, service: str) -> str:
    """A "did you mean" among the catalog's ML model services, for a service that is not there."""
    return _did_you_mean(service, catalog.names("mlmodelService"))


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


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
            problems.append(loaded.diagnostic(loc, "R009", f"{kind} {name!r} not found in OpenMetadata"
                                                           f"{_did_you_mean(name, catalog.names(kind))}"))
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
