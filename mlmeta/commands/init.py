"""``mlmeta init --from-registry MODEL``: a starter spec from what the registry and the catalog know.

Features come from the model's signature (name and type), hyperparameters from the run, the
algorithm from the estimator's class as MLflow's autolog records it (``registry.estimator_of``;
never the flavour: ``sklearn`` is no algorithm). Sources come from the catalog: the run's logged
training datasets are mapped to assets by the project's ``[datasets]`` rules, each asset's
columns are read (one GET per asset, ``read_catalog``), and a feature's sources are the columns of
its name - exactly, else ignoring case and underscores - whose type fits it (numerical or
categorical, from the column's dataType). Columns of a similar name, or of its name but another
type, are listed in a comment under the feature, never written as sources: every source init
writes is a column the catalog holds.

Without the catalog (OPENMETADATA_HOST not set, or the server cannot be read) the sources are
proposed from the datasets' logged schemas, as before the catalog was asked, and both the spec
and the command say they were not checked. What only a person knows - the other sources, what
the model is for - is left as clearly marked TODO comments, so the file validates as written and
nothing made up is ever published. Everything here but ``read_catalog`` is pure.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.catalog.records import ASSET_KINDS, SOURCE_TYPE_OF_COLUMN
from mlmeta.catalog.datasets import MappedDataset
from mlmeta.registry.table import kind_of
from mlmeta.registry.types import ProductionVersion, SignatureInput

CATEGORICAL_TYPES = {"string", "boolean", "binary"}
# a column's source type (catalog.SOURCE_TYPE_OF_COLUMN) -> the kind of feature it can feed as it is;
# arrays, objects and unknown types feed neither without a transformation a person has to name
_COLUMN_KINDS = {"string": "categorical", "boolean": "categorical", "integer": "numerical", "number": "numerical",
                 "date": "numerical", "timestamp": "numerical"}
NEAR_MATCHES = 3  # listed under a feature at most: more is a list to read, not a hint
SIMILAR = 0.75  # difflib's ratio of two normalised names from which they count as similar
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/ ]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value: str) -> str:
    """A string as YAML: plain when that reads back the same, else JSON-quoted (valid YAML)."""
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS and not value.endswith(" "):
        return value
    return json.dumps(value)


def model_name(registered_model: str) -> str:
    """The catalog name for a registered model: Unity Catalog's catalog.schema.model -> model."""
    return registered_model.split(".")[-1].replace('"', "") or "model"


# --- what the catalog holds --------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a training dataset's asset (or, unchecked, a column of its logged schema)."""

    kind: str  # the asset's spec key: table, container
    asset: str  # the asset's FQN
    name: str
    data_type: str = ""  # the catalog's dataType (INT, VARCHAR ...); "" when the catalog was not read

    @property
    def feeds(self) -> str | None:
        """numerical or categorical: the kind of feature the column feeds as it is (None: neither)."""
        return _COLUMN_KINDS.get(SOURCE_TYPE_OF_COLUMN.get(self.data_type.upper(), ""))

    def flow(self) -> str:
        return f"{{{self.kind}: {scalar(self.asset)}, column: {scalar(self.name)}}}"


@dataclass
class CatalogColumns:
    """The columns of the assets the training datasets map to, as the catalog holds them."""

    columns: list[Column] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # assets the catalog lacks, said as a person reads it
    unchecked: str | None = None  # why the catalog was not read (None: it was, or nothing was to be read)


def read_catalog(datasets: list[MappedDataset], settings: Any) -> CatalogColumns:
    """One GET per distinct asset the mapped training datasets name; a catalog that is not set up
    or cannot be read leaves the sources unchecked, with the reason - init goes on without it."""
    from mlmeta.catalog.records import CatalogError
    from mlmeta.errors import MlmetaError

    assets = list(dict.fromkeys((d.kind, fqn.normalize(d.fqn)) for d in datasets if d.mapped))
    if not assets:
        return CatalogColumns()
    if not settings.openmetadata_host:
        return CatalogColumns(unchecked="OPENMETADATA_HOST is not set")
    try:
        from mlmeta.catalog.openmetadata import OpenMetadataCatalog

        catalog = OpenMetadataCatalog(settings)
        return _columns(catalog, assets)
    except (MlmetaError, CatalogError) as error:
        return CatalogColumns(unchecked=f"OpenMetadata could not be read ({error})")


def _columns(catalog: Any, assets: list[tuple[str, str]]) -> CatalogColumns:
    found = CatalogColumns()
    for kind, name in assets:
        asset = catalog.asset(ASSET_KINDS[kind], name)
        if asset is None or asset.deleted:
            found.missing.append(f"{kind} {name!r} is {'deleted' if asset else 'not found'} in OpenMetadata")
            continue
        for path, data_type in asset.children.items():
            parts = fqn.split(path)
            if len(parts) == 1:  # a nested field is no column a source can name
                found.columns.append(Column(kind, asset.fqn, parts[0], data_type))
    return found


# --- matching features to columns ---------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """What init writes under one feature: sources, and near matches as a comment."""

    sources: tuple[Column, ...] = ()
    near: tuple[tuple[Column, str], ...] = ()  # (column, why it is only near)
    checked: bool = True  # the sources are columns the catalog holds (False: from the logged schemas)
    found_in: tuple[str, ...] = ()  # unchecked: the training datasets whose logged schema has the column


def feature_kind(column: SignatureInput) -> str:
    return "categorical" if column.type in CATEGORICAL_TYPES else "numerical"


def propose(facts: ProductionVersion, datasets: list[MappedDataset],
            catalog: CatalogColumns | None = None) -> dict[str, Proposal]:
    """Each signature input's proposal: from the catalog's columns when it was read, else from the
    datasets' logged schemas (unchecked)."""
    inputs = facts.signature or ()
    if catalog is None or catalog.unchecked:
        return {c.name: _from_logged_schemas(c.name, [d for d in datasets if d.mapped]) for c in inputs}
    return {c.name: match(c, catalog.columns) for c in inputs}


def match(feature: SignatureInput, columns: list[Column]) -> Proposal:
    """The columns of the feature's name (exact, else ignoring case and underscores) whose type fits
    it; the others of its name and those of a similar name are near matches."""
    kind, wanted = feature_kind(feature), _normal(feature.name)
    exact = [c for c in columns if c.name == feature.name]
    folded = [c for c in columns if c.name != feature.name and _normal(c.name) == wanted]
    sources = [c for c in exact if c.feeds == kind] or [c for c in folded if c.feeds == kind]
    near = [(c, f"{c.data_type or 'no type'}: {_feeds(c)}, the feature is {kind}") for c in exact + folded
            if c.feeds != kind]
    near += [(c, "the same name but for case and underscores") for c in folded if c.feeds == kind and c not in sources]
    near += [(c, f"{c.data_type}, a similar name") for c in _similar(wanted, columns) if c not in exact + folded]
    return Proposal(tuple(_unique(sources)), tuple(near[:NEAR_MATCHES]))


def _normal(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).casefold()


def _feeds(column: Column) -> str:
    return f"{column.feeds}" if column.feeds else "neither numerical nor categorical"


def _similar(wanted: str, columns: list[Column]) -> list[Column]:
    """Columns whose normalised name holds the feature's or is held by it (``is_premium`` and
    ``premium``), or reads much like it; the closest first."""
    def closeness(column: Column) -> float:
        name = _normal(column.name)
        if min(len(name), len(wanted)) >= 3 and (name in wanted or wanted in name):
            return 1.0
        return difflib.SequenceMatcher(None, wanted, name).ratio()

    scored = sorted(((closeness(c), i) for i, c in enumerate(columns)), key=lambda pair: (-pair[0], pair[1]))
    return [columns[i] for score, i in scored if score >= SIMILAR]


def _unique(columns: list[Column]) -> list[Column]:
    return list(dict.fromkeys(columns))


def _from_logged_schemas(feature: str, datasets: list[MappedDataset]) -> Proposal:
    """Unchecked: the assets of the training datasets whose logged schema has a column of the
    feature's name - what the run says it read, which the catalog may name otherwise."""
    holding = [d for d in datasets if feature in d.dataset.columns]
    sources = _unique([Column(d.kind, d.fqn, feature) for d in holding])
    return Proposal(tuple(sources), checked=False, found_in=tuple(d.dataset.label for d in holding))


# --- the spec ------------------------------------------------------------------------------------


def starter_spec(facts: ProductionVersion, *, service: str | None, schema_ref: str | None,
                 alias: str | None = None, stage: str | None = None, datasets: list[MappedDataset] = (),
                 proposals: dict[str, Proposal] | None = None) -> str:
    """``alias`` and ``stage``: what the user asked for (written as asked, whether or not a version
    carries them yet); else the marker that put the version in Production is written.
    ``datasets``: the version's training datasets, mapped by the project's rules; ``proposals``:
    each feature's sources (``propose``; default: from the datasets' logged schemas, unchecked)."""
    proposals = propose(facts, list(datasets)) if proposals is None else proposals
    name = model_name(facts.registered_model)
    promotion = ("the latest version; none is in Production yet" if facts.recognised_by == "latest"
                 else f"in Production by {facts.promotion.describe()}".replace("`", ""))
    lines = []
    if schema_ref:
        lines.append(f"# yaml-language-server: $schema={schema_ref}")
    lines += [
        _comment(f"# Written by `mlmeta init {kind_of(facts.registry).init_flag} {facts.registered_model}` from version "
                 f"{facts.version} ({promotion})."),
        f"# TODO: {_header_todo(facts, proposals)}",
        "mlmeta: 1",
        f"name: {scalar(name)}",
    ]
    if service:
        lines.append(f"service: {scalar(service)}")
    lines += [
        "# description: TODO - what the model does, for whom, and how to use its predictions",
    ]
    lines += _REGISTRY_BLOCKS[kind_of(facts.registry).spec_block](facts, alias, stage)
    lines += _algorithm(facts)
    lines += _features(facts, [d for d in datasets if d.mapped], proposals)
    lines += _hyperparameters(facts)
    return "\n".join(lines) + "\n"


def next_step(facts: ProductionVersion, proposals: dict[str, Proposal] | None = None) -> str:
    """What is left to do with the starter spec, as it stands."""
    proposed, features = _counts(facts, proposals or {})
    unchecked = any(not p.checked for p in (proposals or {}).values() if p.sources)
    if not features:
        todo = "list the features with their sources and descriptions"
    elif proposed == features and not unchecked:
        todo = "every feature's source was found in the catalog; add the descriptions"
    elif proposed == features:
        todo = "check the feature sources proposed from the training datasets, add the descriptions"
    elif proposed:
        todo = (f"check the sources proposed for {proposed} of the {features} features, add the other features' "
                "sources and the descriptions")
    else:
        todo = "add the feature sources and descriptions"
    return f"{todo}, then run mlmeta validate"


def _header_todo(facts: ProductionVersion, proposals: dict[str, Proposal]) -> str:
    proposed, features = _counts(facts, proposals)
    checked = all(p.checked for p in proposals.values() if p.sources)
    if proposed and proposed == features:
        return ("describe the model (each feature's source was found in the catalog)." if checked else
                "describe the model, and check the feature sources proposed from its training datasets.")
    if proposed:
        return ("describe the model, check the feature sources proposed from its training datasets, and say where "
                "the other features' data comes from.")
    return "describe the model, and say where each feature's data comes from (its sources)."


def _counts(facts: ProductionVersion, proposals: dict[str, Proposal]) -> tuple[int, int]:
    """(features given sources, features in the signature)."""
    names = [c.name for c in facts.signature or ()]
    return sum(1 for name in names if name in proposals and proposals[name].sources), len(names)


def notes(facts: ProductionVersion, datasets: list[MappedDataset], catalog: CatalogColumns) -> list[str]:
    """What init could not check or propose, one line each, for the person who runs it."""
    said = []
    if facts.signature and not datasets:
        said.append("the run logged no training dataset (mlflow.log_input), so no feature source was looked for")
    said += [f"training dataset {d.dataset.label} maps to no catalog asset: {d.reason}" for d in datasets
             if not d.mapped]
    if catalog.unchecked:
        said.append(f"feature sources not checked in OpenMetadata: {catalog.unchecked}; those proposed come from the "
                    "training datasets' logged schemas")
    said += catalog.missing
    if not facts.estimator:
        said.append("the run records no estimator class (MLflow's autolog tags estimator_class), so the algorithm is "
                    "left as a TODO")
    return said


def _algorithm(facts: ProductionVersion) -> list[str]:
    if facts.estimator:
        return [f"algorithm: {scalar(facts.estimator)}"]
    flavours = [f for f in facts.flavors if f != "python_function"]
    hint = f" (its flavour is {flavours[0]})" if flavours else ""
    return [_comment(f"# algorithm: TODO - the estimator, e.g. GradientBoostingRegressor: the run records none{hint}")]


def _kubeflow(facts: ProductionVersion, alias: str | None, stage: str | None) -> list[str]:
    """The registry block of a Kubeflow Model Registry model: its Production rule as found, or one to
    fill in (KF MR has no stages: what marks Production is the team's own convention; the alias and
    stage asked for have no place in it)."""
    lines = ["registry: kubeflow", "kubeflow:", f"  registered_model: {scalar(facts.registered_model)}",
             "  production:"]
    if facts.recognised_by == "property":
        name, _, value = facts.marker.partition("=")
        return lines + [f"    property: {scalar(name)}", f"    value: {scalar(value)}"]
    if facts.recognised_by in ("label", "version_property"):
        return lines + [f"    {facts.recognised_by}: {scalar(facts.marker)}"]
    if facts.recognised_by == "newest_live":
        return lines + ["    state: LIVE", "    newest: true"]
    return lines + ["    # TODO: what marks the Production version; one of: property + value, label,",
                    "    # state: LIVE + newest: true, version_property",
                    "    property: stage", "    value: production"]


def _mlflow(facts: ProductionVersion, alias: str | None, stage: str | None) -> list[str]:
    lines = ["mlflow:", f"  registered_model: {scalar(facts.registered_model)}"]
    alias = alias or (facts.marker if facts.recognised_by == "alias" else None)
    stage = stage or (facts.marker if facts.recognised_by == "stage" else None)
    if alias:
        lines.append(f"  alias: {scalar(alias)}")
    if stage:
        lines.append(f"  stage: {scalar(stage)}")
    return lines


_REGISTRY_BLOCKS = {"mlflow": _mlflow, "kubeflow": _kubeflow}  # a spec's registry blocks, by key


def _features(facts: ProductionVersion, datasets: list[MappedDataset], proposals: dict[str, Proposal]) -> list[str]:
    if not facts.signature:
        return ["features: []  # TODO: the model has no signature: list its features by hand"]
    lines = ["features:"]
    for column in facts.signature:
        lines += [
            f"  - name: {scalar(column.name)}",
            f"    type: {feature_kind(column)}  # signature type: {_comment(column.type)}",
            "    # description: TODO",
        ]
        proposal = proposals.get(column.name, Proposal())
        lines += _sources(proposal, datasets) + _near(proposal)
    return lines


def _sources(proposal: Proposal, datasets: list[MappedDataset]) -> list[str]:
    if not proposal.sources:
        assets = ", ".join(sorted({fqn.normalize(d.fqn) for d in datasets}))
        if not assets:
            hint = "e.g. [{column: service.database.schema.table.column}]"
        elif proposal.checked:
            hint = f"no column of its name and type in the training datasets' assets ({assets})"
        else:
            hint = f"one of the training datasets' assets ({assets})?"
        return [f"    sources: []  # TODO: {_comment(hint)}"]
    if proposal.checked:
        many = "; keep the ones it comes from" if len(proposal.sources) > 1 else ""
        comment = f"columns of its name and type in the training datasets' assets (found in OpenMetadata){many}"
    else:
        plural = "s" if len(proposal.found_in) > 1 else ""
        comment = (f"from the training dataset{plural} {', '.join(proposal.found_in)}: not checked in OpenMetadata, "
                   "check them")
    lines = [f"    sources:  # {_comment(comment)}"]
    for source in proposal.sources:
        lines += [f"      - {source.kind}: {scalar(source.asset)}", f"        column: {scalar(source.name)}"]
    return lines


def _near(proposal: Proposal) -> list[str]:
    if not proposal.near:
        return []
    lines = ["    # near matches, not sources (if the feature comes from one, move it into sources):"]
    return lines + [f"    #   - {column.flow()}  # {_comment(why)}" for column, why in proposal.near]


def _hyperparameters(facts: ProductionVersion) -> list[str]:
    if not facts.params:
        return []
    lines = ["hyperparameters:  # values come from the run; describe them here"]
    for name, value in sorted(facts.params.items()):
        lines.append(f"  {scalar(name)}: {{}}  # {_one_line(value)}; TODO: description")
    return lines


def _one_line(value: Any, limit: int = 80) -> str:
    """A value shown in a comment: one line, and short (autolog logs a Pipeline's steps as a
    multi-line repr)."""
    text = _comment(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _comment(value: Any) -> str:
    """Text from the registry or the catalog (a dataset's name, a signature's type, a column's type,
    a registered model's name) on one line: a line break in it would end the comment, and what
    followed would be read as the spec's own YAML."""
    return " ".join(str(value).split())


# --- the command, start to end ------------------------------------------------------------------


@dataclass
class Starter:
    """What ``init`` made: the spec's text, the notes said beside it, and the next step to take."""

    text: str
    notes: list[str]
    next_step: str


def start(registered_model: str, settings: Any, *, alias: str | None, stage: str | None, service: str | None,
          schema_ref: str | None) -> Starter:
    """``mlmeta init``: the registered model's version read from the registry, its training datasets
    mapped and their assets' columns read from the catalog, and the starter spec written from them."""
    from mlmeta.catalog.datasets import DatasetRules, map_dataset

    facts = _version_facts(registered_model, settings, alias=alias, stage=stage)
    datasets = [map_dataset(d, settings.datasets or DatasetRules()) for d in facts.training_datasets]
    catalog = read_catalog(datasets, settings)  # the columns of the assets they map to: one GET each
    proposals = propose(facts, datasets, catalog)
    text = starter_spec(facts, service=service or settings.service, schema_ref=schema_ref, alias=alias, stage=stage,
                        datasets=datasets, proposals=proposals)
    return Starter(text, notes(facts, datasets, catalog), next_step(facts, proposals))


def _version_facts(registered_model: str, settings: Any, *, alias: str | None, stage: str | None) -> ProductionVersion:
    """The facts of the version in Production by the alias or the stage, else of the newest version;
    a registry's refusal is the user's to fix (exit 2)."""
    from mlmeta.errors import UsageError
    from mlmeta.registry.table import kind_of, open_registry
    from mlmeta.registry.types import RegistryError, Wanted
    from mlmeta.spec.model import DEFAULT_STAGE

    registry = open_registry(settings)
    try:
        # a registry with no default marker has nothing to look for: the newest version, and a rule to fill in
        promotion = None if not kind_of(settings.registry).has_default_production else registry.promotion(
            Wanted(registered_model, alias or settings.alias, stage or DEFAULT_STAGE))
        promotion = promotion or registry.latest(registered_model)
        if promotion is None:
            raise UsageError(f"registered model {registered_model!r} has no version yet")
        return registry.facts(promotion)
    except RegistryError as error:
        raise UsageError(str(error)) from None
