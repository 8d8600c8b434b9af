"""``mlmeta init --from-mlflow MODEL``: a starter spec from what the registry knows (pure).

Features come from the signature, hyperparameters from the run, the algorithm from the flavor.
Where the run logged its training datasets and the project's rules map them to catalog assets,
a feature's sources are proposed from them: the asset whose logged schema has a column of the
feature's name. What only a person knows - the other sources, what the model is for - is left
as clearly marked TODO comments, so the file validates as written and nothing made up is ever
published.
"""

from __future__ import annotations

import json
import re

from mlmeta.datasets import MappedDataset
from mlmeta.registry import ProductionVersion

CATEGORICAL_TYPES = {"string", "boolean", "binary"}
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


_FROM = {"mlflow": "--from-mlflow", "kubeflow": "--from-registry"}  # the flag a team on each registry types


def starter_spec(facts: ProductionVersion, *, service: str | None, schema_ref: str | None,
                 alias: str | None = None, stage: str | None = None, datasets: list[MappedDataset] = ()) -> str:
    """``alias`` and ``stage``: what the user asked for (written as asked, whether or not a version
    carries them yet); else the marker that put the version in Production is written.
    ``datasets``: the version's training datasets, mapped by the project's rules."""
    name = model_name(facts.registered_model)
    promotion = ("the latest version; none is in Production yet" if facts.recognised_by == "latest"
                 else f"in Production by {facts.promotion.describe()}".replace("`", ""))
    lines = []
    if schema_ref:
        lines.append(f"# yaml-language-server: $schema={schema_ref}")
    lines += [
        f"# Written by `mlmeta init {_FROM[facts.registry]} {facts.registered_model}` from version {facts.version} "
        f"({promotion}).",
        f"# TODO: {_header_todo(facts, datasets)}",
        "mlmeta: 1",
        f"name: {scalar(name)}",
    ]
    if service:
        lines.append(f"service: {scalar(service)}")
    lines += [
        "# description: TODO - what the model does, for whom, and how to use its predictions",
    ]
    if facts.registry == "kubeflow":
        lines += _kubeflow(facts)
    else:
        lines += _mlflow(facts, alias, stage)
    if facts.algorithm:
        lines.append(f"algorithm: {scalar(facts.algorithm)}")
    lines += _features(facts, [d for d in datasets if d.mapped])
    lines += _hyperparameters(facts)
    return "\n".join(lines) + "\n"


def next_step(facts: ProductionVersion, datasets: list[MappedDataset] = ()) -> str:
    """What is left to do with the starter spec, as it stands: the sources it proposed are to be
    checked, only the missing ones added."""
    proposed, features = _proposed(facts, datasets)
    if not features:
        todo = "list the features with their sources and descriptions"
    elif proposed == features:
        todo = "check the feature sources proposed from the training datasets, add the descriptions"
    elif proposed:
        todo = (f"check the sources proposed for {proposed} of the {features} features, add the other features' "
                "sources and the descriptions")
    else:
        todo = "add the feature sources and descriptions"
    return f"{todo}, then run mlmeta validate"


def _header_todo(facts: ProductionVersion, datasets: list[MappedDataset]) -> str:
    proposed, features = _proposed(facts, datasets)
    if proposed and proposed == features:
        return "describe the model, and check the feature sources proposed from its training datasets."
    if proposed:
        return ("describe the model, check the feature sources proposed from its training datasets, and say where "
                "the other features' data comes from.")
    return "describe the model, and say where each feature's data comes from (its sources)."


def _proposed(facts: ProductionVersion, datasets: list[MappedDataset]) -> tuple[int, int]:
    """(features given sources from the training datasets, features in the signature)."""
    mapped = [d for d in datasets if d.mapped]
    columns = [c.name for c in facts.signature or ()]
    return sum(1 for name in columns if _holding(name, mapped)), len(columns)


def _holding(feature: str, datasets: list[MappedDataset]) -> list[MappedDataset]:
    """The training datasets whose logged schema has a column of the feature's name."""
    return [d for d in datasets if feature in d.dataset.columns]


def _kubeflow(facts: ProductionVersion) -> list[str]:
    """The registry block of a Kubeflow Model Registry model: its Production rule as found, or one to
    fill in (KF MR has no stages: what marks Production is the team's own convention)."""
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


def _features(facts: ProductionVersion, datasets: list[MappedDataset]) -> list[str]:
    if not facts.signature:
        return ["features: []  # TODO: the model has no signature: list its features by hand"]
    lines = ["features:"]
    for column in facts.signature:
        kind = "categorical" if column.type in CATEGORICAL_TYPES else "numerical"
        lines += [
            f"  - name: {scalar(column.name)}",
            f"    type: {kind}  # signature type: {column.type}",
            "    # description: TODO",
        ]
        lines += _sources(column.name, datasets)
    return lines


def _sources(feature: str, datasets: list[MappedDataset]) -> list[str]:
    """The training datasets whose logged schema has a column of the feature's name, as sources."""
    holding = _holding(feature, datasets)
    if not holding:
        assets = sorted({d.fqn for d in datasets})
        hint = (f"one of the training datasets' assets ({', '.join(assets)})?" if assets
                else "e.g. [{column: service.database.schema.table.column}]")
        return [f"    sources: []  # TODO: {hint}"]
    lines = [f"    sources:  # from the training dataset{'s' if len(holding) > 1 else ''} "
             f"{', '.join(d.dataset.label for d in holding)}: check them"]
    seen = set()
    for mapped in holding:
        if (mapped.kind, mapped.fqn) in seen:
            continue
        seen.add((mapped.kind, mapped.fqn))
        lines += [f"      - {mapped.kind}: {scalar(mapped.fqn)}", f"        column: {scalar(feature)}"]
    return lines


def _hyperparameters(facts: ProductionVersion) -> list[str]:
    if not facts.params:
        return []
    lines = ["hyperparameters:  # values come from the run; describe them here"]
    for name, value in sorted(facts.params.items()):
        lines.append(f"  {scalar(name)}: {{}}  # {value}; TODO: description")
    return lines
