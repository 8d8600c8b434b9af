"""What the Production version was really trained on, against what the spec says (pure but for
the catalog look-ups, which go through the adapter passed in and its per-run cache).

MLflow records the datasets a run logged (``mlflow.log_input``); ``mlmeta.catalog.datasets`` maps each to
a catalog asset by the project's rules. Then, for a spec whose training data is checked:

- R010 (warning, an error with --strict): a training dataset maps to an asset no source of the
  spec names - the catalog's lineage would say "trained on X" while the run says "trained on Y";
- R011 (notice): a source asset no logged training dataset covers (only when the run logged any);
- R012 (notice): a training dataset that maps to no catalog asset, or to one the catalog lacks.

With ``training_data: lineage``, each training dataset's asset also becomes an upstream edge of
the model, its details saying "training data, MLflow run <id>, dataset <name>@<digest>".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.catalog.records import ASSET_KINDS, Ref
from mlmeta.catalog.datasets import DatasetRules, MappedDataset, map_dataset
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.registry.types import ProductionVersion
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.rules import source_identity

DATASET_COLUMNS = ("dataset", "digest", "source")  # the mlflowTrainingDatasets table's columns (3 at most)


@dataclass
class TrainingData:
    """The training datasets of the Production version, mapped to the catalog and looked up."""

    run_id: str | None
    version: str
    registered_model: str
    datasets: list[MappedDataset] = field(default_factory=list)
    found: dict[int, Ref] = field(default_factory=dict)  # index in datasets -> the asset, when it is in the catalog

    def role(self, dataset: MappedDataset) -> str:
        return f"training data, MLflow run {self.run_id or '?'}, dataset {dataset.dataset.label}"

    def edge_roles(self) -> list[tuple[Ref, str]]:
        """(asset, role) for every training dataset found in the catalog, in the order logged."""
        return [(self.found[i], self.role(d)) for i, d in enumerate(self.datasets) if i in self.found]

    def property_value(self) -> dict[str, Any] | None:
        """The ``mlflowTrainingDatasets`` custom property: one row per training dataset."""
        if not self.datasets:
            return None
        rows = [{"dataset": d.dataset.name, "digest": d.dataset.digest or "-",
                 "source": self.found[i].fqn if i in self.found else d.shown_source}
                for i, d in enumerate(self.datasets)]
        return {"columns": list(DATASET_COLUMNS), "rows": rows}


def mode(loaded: LoadedSpec, settings: Any) -> str:
    """check, lineage or ignore: the spec's ``training_data``, else the project's."""
    return loaded.spec.training_data or settings.training_data


def look_up(facts: ProductionVersion, rules: DatasetRules | None, catalog: Any) -> TrainingData:
    """Map the version's training datasets and find their assets (a deleted one counts as missing)."""
    training = TrainingData(facts.run_id, facts.version, facts.registered_model,
                            [map_dataset(d, rules or DatasetRules()) for d in facts.training_datasets])
    for i, mapped in enumerate(training.datasets):
        if mapped.mapped:
            asset = catalog.asset(ASSET_KINDS[mapped.kind], mapped.fqn)
            if asset is not None and not asset.deleted:
                training.found[i] = asset.ref
    return training


def _spec_assets(loaded: LoadedSpec) -> dict[tuple[str, str], tuple]:
    """(entity type, FQN) of each asset the spec's features and labels come from -> its first spec path."""
    spec, assets = loaded.spec, {}
    named = [(("features", i, "sources", j), s) for i, f in enumerate(spec.features) for j, s in enumerate(f.sources)]
    named += [(("label_sources", k), s) for k, s in enumerate(spec.label_sources or [])]
    for loc, source in named:
        identity = source_identity(source)
        assets.setdefault((ASSET_KINDS[identity.kind], fqn.normalize(identity.asset)), loc)
    return assets


def _covers(spec_asset: tuple[str, str], kind: str, name: str) -> bool:
    """A source names the dataset's asset, or a container holding it."""
    return spec_asset[0] == kind and (name == spec_asset[1] or (kind == "container" and
                                                               name.startswith(spec_asset[1] + ".")))


def check(loaded: LoadedSpec, training: TrainingData) -> list[Diagnostic]:
    if not training.datasets:
        return []  # nothing logged: nothing to compare, and nothing to notice
    spec = loaded.spec
    at_features = ("features",) if "features" in spec.model_fields_set else ("name",)
    assets = _spec_assets(loaded)

    def notice(message: str, code: str = "R012", severity: Severity = Severity.NOTICE) -> Diagnostic:
        return loaded.diagnostic(at_features, code, message, severity=severity, at_key=True)

    findings = []
    covered: set[tuple[str, str]] = set()
    for i, mapped in enumerate(training.datasets):
        trained = f"version {training.version} trained on {mapped.dataset.label} (MLflow run {training.run_id or '?'})"
        if not mapped.mapped:
            findings.append(notice(f"{trained}, which maps to no catalog asset: {mapped.reason}"))
            continue
        kind, target = ASSET_KINDS[mapped.kind], fqn.normalize(mapped.fqn)
        if i not in training.found:
            findings.append(notice(f"{trained}, which maps to {mapped.kind} {target!r}: not found in OpenMetadata "
                                   "(nothing is drawn for it)"))
        holders = [a for a in assets if _covers(a, kind, target)]
        covered.update(holders)
        if not holders:
            findings.append(notice(f"{trained}: {mapped.kind} {target!r}, which no source of the spec names", "R010",
                                   Severity.WARNING))
    logged = ", ".join(d.dataset.label for d in training.datasets)
    for asset, loc in assets.items():
        if asset not in covered:
            findings.append(loaded.diagnostic(loc, "R011", f"{asset[1]} is not among the datasets version "
                                                           f"{training.version} logged for training ({logged})",
                                              severity=Severity.NOTICE))
    return findings
