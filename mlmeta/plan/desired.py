"""The ML model entity a spec asks for: spec + resolved references + the registry's facts (pure).

Only fields mlmeta manages appear in ``Desired.fields``: the ones the spec sets, plus what it
derives (description, algorithm, hyperparameters, ML store, source URL from the registry; the
source hash). Within features and hyperparameters, a description or tags the spec leaves out are taken
from the catalog's current entity, so what people added there by hand survives a publish.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlmeta.catalog import fqn
from mlmeta.catalog import provenance as properties
from mlmeta.catalog.records import Ref
from mlmeta.catalog.ownership import PROPERTY as OWNER
from mlmeta.plan import describe
from mlmeta.plan.training import TrainingData
from mlmeta.registry.types import ProductionVersion, Promotion
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.model import Feature, ModelSpec

LINEAGE_MARKER = "managed by mlmeta"
# bump when the desired entity for the same inputs changes shape (2: the mlmeta: mark; 3: column-level
# lineage on the edges - a bump makes every entity take the slow path once, which redraws them)
RENDERING_VERSION = 3
MARK = "mlmeta:"  # how every fingerprint starts: the durable sign that an entity is mlmeta's


@dataclass(frozen=True)
class ResolvedSource:
    asset: Ref  # the table, topic, container, dashboard data model or search index
    name: str  # the child's path (a column, a field), or the asset's name for a whole-asset source
    data_type: str | None
    child_fqn: str | None = None  # the column's or field's FQN, for column-level lineage


FEATURE_SOURCE = "feature source"
LABEL_SOURCE = "label source"
PREDICTIONS = "predictions"


@dataclass(frozen=True)
class WantedEdge:
    """A lineage edge the spec asks for, between an asset and the model: upstream (the asset feeds
    the model) or ``downstream`` (the model's predictions land in it). ``columns`` is the
    column-level mapping (``lineageDetails.columnsLineage``): upstream from the asset's columns and
    fields to the features they feed, downstream from the features to the column or field that
    receives the prediction. ``roles`` says what the edge stands for: feature source, label source,
    or training data (``training data, MLflow run <id>, dataset <name>@<digest>``)."""

    source: Ref  # the asset at the other end
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (toColumn, its fromColumns), sorted
    roles: tuple[str, ...] = (FEATURE_SOURCE,)
    downstream: bool = False

    def columns_lineage(self) -> list[dict[str, Any]]:
        return [{"fromColumns": list(sources), "toColumn": target} for target, sources in self.columns]

    @property
    def drawn_at_create(self) -> bool:
        """The server draws an edge from each feature source when it creates the model - plain, without
        details; any other edge, or one with more to say, is mlmeta's to draw."""
        return self.roles == (FEATURE_SOURCE,) and not self.columns and not self.downstream


@dataclass
class Resolution:
    sources: dict[tuple[int, int], ResolvedSource] = field(default_factory=dict)  # (feature, source) -> ...
    labels: list[ResolvedSource] = field(default_factory=list)  # label sources, as resolved
    outputs: dict[int, ResolvedSource] = field(default_factory=dict)  # output index -> ...
    owners: list[Ref] | None = None
    dashboard: Ref | None = None
    domain: Ref | None = None

    def edges(self, model: str, feature_names: list[str], training: list[tuple[Ref, str]] = ()) -> list[WantedEdge]:
        """One upstream edge per distinct asset the features and labels come from (spec order) and
        per training dataset's asset (``training``: the asset and its role), each with the mapping
        from the asset's columns/fields to the features (features are the model's "columns")."""
        assets: dict[str, Ref] = {}
        roles: dict[str, list[str]] = {}
        mapping: dict[str, dict[str, set[str]]] = {}
        for i, j in sorted(self.sources):
            source = self.sources[(i, j)]
            assets.setdefault(source.asset.id, source.asset)
            _add_role(roles, source.asset.id, FEATURE_SOURCE)
            if source.child_fqn is not None:
                feature = fqn.join(*fqn.split(model), feature_names[i])
                mapping.setdefault(source.asset.id, {}).setdefault(feature, set()).add(source.child_fqn)
        for asset, role in [(label.asset, LABEL_SOURCE) for label in self.labels] + list(training):
            assets.setdefault(asset.id, asset)
            _add_role(roles, asset.id, role)
        return [WantedEdge(ref, _sorted_mapping(mapping.get(ref.id, {})), tuple(roles[ref.id]))
                for ref in assets.values()]

    def output_edges(self, model: str, outputs: list[Any], feature_names: list[str]) -> list[WantedEdge]:
        """One downstream edge per distinct asset the predictions land in, mapping the features each
        prediction is computed from (default: all) to the column or field that receives it."""
        assets: dict[str, Ref] = {}
        mapping: dict[str, dict[str, set[str]]] = {}
        for k in sorted(self.outputs):
            output = self.outputs[k]
            assets.setdefault(output.asset.id, output.asset)
            if output.child_fqn is not None and feature_names:
                features = outputs[k].features if outputs[k].features is not None else feature_names
                mapping.setdefault(output.asset.id, {}).setdefault(output.child_fqn, set()).update(
                    fqn.join(*fqn.split(model), name) for name in features)
        return [WantedEdge(ref, _sorted_mapping(mapping.get(ref.id, {})), (PREDICTIONS,), downstream=True)
                for ref in assets.values()]


def _add_role(roles: dict[str, list[str]], asset_id: str, role: str) -> None:
    if role not in roles.setdefault(asset_id, []):
        roles[asset_id].append(role)


def _sorted_mapping(mapping: dict[str, set[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((target, tuple(sorted(sources))) for target, sources in mapping.items()))


@dataclass
class Desired:
    service: str
    name: str
    fqn: str
    fields: dict[str, Any]
    edges: list[WantedEdge]  # upstream lineage: one per distinct asset the features, labels, training data come from
    outputs: list[WantedEdge] = field(default_factory=list)  # downstream lineage: where the predictions land

    def create_request(self) -> dict[str, Any]:
        """A CreateMlModelRequest body: references by FQN or as {id, type}, as the API takes them."""
        request = {k: v for k, v in self.fields.items() if k not in ("owners", "dashboard", "domains")}
        request.update(name=self.name, service=self.service)
        if self.fields.get("owners"):
            request["owners"] = [{"id": o["id"], "type": o["type"]} for o in self.fields["owners"]]
        if self.fields.get("dashboard"):
            request["dashboard"] = self.fields["dashboard"]["fullyQualifiedName"]
        if self.fields.get("domains"):
            request["domains"] = [d["fullyQualifiedName"] for d in self.fields["domains"]]
        return {k: v for k, v in request.items() if v is not None}


def model_fqn(spec: ModelSpec, default_service: str | None) -> str:
    return fqn.join(spec.service or default_service or "", spec.name)


def is_mlmetas(entity: dict[str, Any] | None) -> bool:
    """Whether mlmeta published this entity: its sourceHash carries mlmeta's mark. Retirement (prune,
    mark, delete) never touches an entity without it - other tools write sourceHash too."""
    return bool(entity) and str(entity.get("sourceHash") or "").startswith(MARK)


def training_settings(settings: Any) -> dict[str, Any] | None:
    """The project's training-data settings as the fingerprint counts them: None while they are the
    defaults (check, no rules), so that the fingerprints of projects that set nothing stay as they were."""
    rules = settings.datasets
    if settings.training_data == "check" and (rules is None or rules.empty):
        return None
    return {"mode": settings.training_data, "rules": rules.as_dict() if rules is not None else None}


def fingerprint(loaded: LoadedSpec, promotion: Promotion, spec_commit: str | None, registry_uri: str | None,
                provenance: frozenset[str] = frozenset(), training: dict[str, Any] | None = None) -> str:
    """``mlmeta:`` and 25 hex characters over everything a publish reads besides the catalog
    (stored as sourceHash, at most 32 characters: the mark makes the entity recognisably mlmeta's).

    The spec (its path and its description file too), which version is in Production and how,
    the spec's commit, the registry's address (``registry_identity``), this mlmeta's rendering version, which provenance
    properties the server defines (so that ``mlmeta setup`` run later fills them in) and the project's
    training-data settings (they decide which edges are drawn). A model version's facts
    (run, parameters, signature) are treated as immutable, so while the fingerprint matches and
    nobody else wrote to the entity, an unchanged re-publish needs no MLflow facts and no
    look-ups: the references resolved last time are trusted from the entity.
    """
    payload = {"spec": loaded.spec.model_dump(mode="json"), "description": loaded.description,
               "path": loaded.display_path,
               "production": asdict(promotion), "commit": spec_commit, "registry": registry_identity(registry_uri),
               "rendering": RENDERING_VERSION}
    if provenance:  # absent rather than empty: a catalog without the properties keeps its stamps
        payload["provenance"] = sorted(provenance)
    if training:  # the same: projects that leave the training-data settings alone keep their stamps
        payload["training"] = training
    return MARK + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32 - len(MARK)]


def registry_identity(uri: str | None) -> str | None:
    """The registry's address as the fingerprint counts it: one server however its URL is spelled.
    A trailing slash, the case of the scheme and host, and credentials (a rotated password is the
    same registry) change nothing - a switch between spellings would otherwise rewrite every model
    as "the spec's text changed". The same URL spelled plainly gives what it always gave."""
    if not uri:
        return uri
    parts = urlsplit(uri.strip())
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a number: kept as written
        port = ":" + parts.netloc.rsplit(":", 1)[-1]
    return urlunsplit((parts.scheme.lower(), host + port, parts.path.rstrip("/"), parts.query, ""))


def tag_label(tag_fqn: str, source: str) -> dict[str, Any]:
    return {"tagFQN": tag_fqn, "source": source, "labelType": "Manual", "state": "Confirmed"}


def build(loaded: LoadedSpec, *, service: str, facts: ProductionVersion | None, resolution: Resolution,
          current: dict[str, Any] | None, spec_commit: str | None, stamp: str, drop_tag: str | None = None,
          provenance: frozenset[str] = frozenset(), training: TrainingData | None = None,
          training_lineage: bool = False, project: str | None = None) -> Desired:
    """``drop_tag``: the tag retirement's ``mark`` adds; a model in Production never keeps it.
    ``provenance``: the custom properties the server defines for mlmeta (see ``mlmeta.catalog.provenance``).
    ``project``: this project's name, recorded as the model's owner where the server defines the
    property for it (``mlmeta.catalog.ownership``).
    ``training``: the version's training datasets as found in the catalog; ``training_lineage``
    draws them as upstream edges."""
    spec = loaded.spec
    set_keys = spec.model_fields_set
    fields: dict[str, Any] = {
        "description": describe.render(loaded.description, spec.model_card, facts, loaded.display_path, spec_commit),
        "sourceHash": stamp,
    }
    if "display_name" in set_keys:
        fields["displayName"] = spec.display_name
    algorithm = spec.algorithm or (facts.algorithm if facts else None)
    if algorithm:
        fields["algorithm"] = algorithm
    for key, entity_key in (("target", "target"), ("server", "server")):
        if key in set_keys:
            fields[entity_key] = getattr(spec, key)
    if "features" in set_keys:
        fields["mlFeatures"] = [_feature(spec.features[i], i, resolution, current) for i in range(len(spec.features))]
    parameters = _hyperparameters(spec, facts, current)
    if parameters is not None:
        fields["mlHyperParameters"] = parameters
    store = _ml_store(spec, facts)
    if store is not None:
        fields["mlStore"] = store
    if facts is not None and facts.version_url:
        fields["sourceUrl"] = facts.version_url
    if provenance and facts is not None:
        table = training.property_value() if training is not None else None
        wanted = properties.values(facts, spec_commit, table)
        if project:
            wanted[OWNER] = project
        fields["extension"] = properties.extension(current, wanted, provenance)
    if "owners" in set_keys:
        fields["owners"] = [o.as_json() for o in resolution.owners or []]
    marked = drop_tag is not None and any(t.get("tagFQN") == drop_tag for t in (current or {}).get("tags") or [])
    if "tags" in set_keys or "glossary_terms" in set_keys or marked:
        fields["tags"] = [t for t in _tags(spec, current) if t["tagFQN"] != drop_tag]
    if "dashboard" in set_keys:
        fields["dashboard"] = resolution.dashboard.as_json() if resolution.dashboard else None
    if "domain" in set_keys:
        fields["domains"] = [resolution.domain.as_json()] if resolution.domain else []
    model = fqn.join(service, spec.name)
    names = [f.name for f in spec.features]
    drawn_training = training.edge_roles() if training is not None and training_lineage else []
    return Desired(service=service, name=spec.name, fqn=model, fields=fields,
                   edges=resolution.edges(model, names, drawn_training),
                   outputs=resolution.output_edges(model, spec.outputs or [], names))


def _feature(feature: Feature, index: int, resolution: Resolution, current: dict[str, Any] | None) -> dict[str, Any]:
    before = _by_name((current or {}).get("mlFeatures"), feature.name)
    result: dict[str, Any] = {"name": feature.name, "dataType": feature.type}
    description = feature.description if feature.description is not None else before.get("description")
    if description:
        result["description"] = description
    if feature.algorithm:
        result["featureAlgorithm"] = feature.algorithm
    tags = ([tag_label(t, "Classification") for t in feature.tags] if feature.tags is not None
            else [_label(t) for t in before.get("tags") or []])
    if tags:
        result["tags"] = tags
    sources = []
    for j, source in enumerate(feature.sources):
        resolved = resolution.sources.get((index, j))
        if resolved is None:
            continue
        item: dict[str, Any] = {"name": resolved.name, "dataSource": resolved.asset.as_json()}
        if resolved.data_type:
            item["dataType"] = resolved.data_type
        if source.description:
            item["description"] = source.description
        sources.append(item)
    if sources:
        result["featureSources"] = sources
    return result


def _hyperparameters(spec: ModelSpec, facts: ProductionVersion | None,
                     current: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    overrides = spec.hyperparameters or {}
    if facts is None and not overrides:
        return None
    values = dict(facts.params) if facts else {}
    for name, override in overrides.items():
        if override.value is not None:
            values[name] = override.value
    result = []
    for name in sorted(set(values) | set(overrides)):
        before = _by_name((current or {}).get("mlHyperParameters"), name)
        item: dict[str, Any] = {"name": name}
        if name in values:
            item["value"] = values[name]
        description = overrides[name].description if name in overrides and overrides[name].description else \
            before.get("description")
        if description:
            item["description"] = description
        result.append(item)
    return result


def _ml_store(spec: ModelSpec, facts: ProductionVersion | None) -> dict[str, Any] | None:
    storage = spec.ml_store.storage if spec.ml_store and spec.ml_store.storage else (facts.artifact_uri if facts
                                                                                     else None)
    image = spec.ml_store.image_repository if spec.ml_store else None
    store = {k: v for k, v in (("storage", storage), ("imageRepository", image)) if v}
    return store or None


def _tags(spec: ModelSpec, current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Classification tags and glossary terms share the entity's ``tags``: manage only the kinds set."""
    keep = [_label(t) for t in (current or {}).get("tags") or []]
    labels = []
    if "tags" in spec.model_fields_set:
        labels += [tag_label(t, "Classification") for t in spec.tags or []]
    else:
        labels += [t for t in keep if t["source"] == "Classification"]
    if "glossary_terms" in spec.model_fields_set:
        labels += [tag_label(t, "Glossary") for t in spec.glossary_terms or []]
    else:
        labels += [t for t in keep if t["source"] == "Glossary"]
    return labels


def _label(label: dict[str, Any]) -> dict[str, Any]:
    return tag_label(label["tagFQN"], label.get("source", "Classification"))


def _by_name(items: list[dict[str, Any]] | None, name: str) -> dict[str, Any]:
    return next((item for item in items or [] if item.get("name") == name), {})
