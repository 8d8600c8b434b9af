"""``mlmeta card``: the spec as a Hugging Face style model card (pure, but for ``export``'s reads).

A ``README.md`` with YAML metadata - license, tags, the datasets the run logged for training, and
``model-index`` results from the metrics of the Production version's run - then the card's sections,
the features and their sources, and the provenance. Model cards travel outside the catalog, and
this is the format people publish. The metadata is written with a YAML dumper, so no name (quotes,
colons, ``#``, line breaks) can break it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mlmeta.plan.describe import CARD_TITLES
from mlmeta.registry.types import ProductionVersion
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.rules import source_identity

DEFAULT_TASK = "other"


@dataclass
class Card:
    metadata: dict[str, Any]
    title: str
    description: str | None
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, Markdown)
    features: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    no_results: str | None = None  # why the card has no results

    def as_dict(self) -> dict[str, Any]:
        return {"metadata": self.metadata, "title": self.title, "description": self.description,
                "sections": [{"title": t, "text": text} for t, text in self.sections], "features": self.features,
                "provenance": self.provenance, "no_results": self.no_results}


def export(loaded: LoadedSpec, settings: Any) -> Card:
    """``mlmeta card``: the card of a valid spec, with the results of its Production version when
    the registry can say them (else the card says why it has none); a registry that cannot answer
    stops the command."""
    from mlmeta.plan.desired import model_fqn
    from mlmeta.registry.table import settings_for
    from mlmeta.spec.discovery import last_commits

    settings = settings_for([loaded], settings)
    facts, why = _production_facts(loaded, settings)
    commit = last_commits([loaded.path]).get(loaded.path.resolve())
    return build(loaded, model_fqn(loaded.spec, settings.service), facts, no_results=why, spec_commit=commit)


def _production_facts(loaded: LoadedSpec, settings: Any) -> tuple[ProductionVersion | None, str | None]:
    """The Production version's facts, or None and why there are none."""
    from mlmeta.errors import ServerError
    from mlmeta.registry.table import kind_of, open_registry, registry_label, wanted_of
    from mlmeta.registry.types import RegistryError

    if not settings.registry_address:
        return None, (f"{kind_of(settings.registry).address_setting} is not set, so the Production version's "
                      "metrics were not read")
    spec = loaded.spec
    try:
        facts = open_registry(settings).production_version(wanted_of(spec, settings))
    except RegistryError as error:
        if error.transient:
            raise ServerError(f"{registry_label(settings)} could not answer: {error}") from None
        return None, str(error)
    if facts is None:
        return None, f"no version of {spec.registered_model!r} is in Production"
    return facts, None


def build(loaded: LoadedSpec, model_fqn: str, facts: ProductionVersion | None, *, no_results: str | None = None,
          spec_commit: str | None = None) -> Card:
    spec = loaded.spec
    card = spec.model_card
    metadata: dict[str, Any] = {}
    if card is not None and card.license:
        metadata["license"] = card.license
    metadata["tags"] = ["mlmeta", *(spec.tags or []), *(spec.glossary_terms or [])]
    datasets = [d.name for d in facts.training_datasets] if facts else []
    if datasets:
        metadata["datasets"] = list(dict.fromkeys(datasets))
    if facts is not None and facts.metrics:
        metadata["model-index"] = [{"name": spec.name, "results": [_results(spec, facts)]}]
    elif facts is not None:
        no_results = f"version {facts.version} of {facts.registered_model!r} logged no metrics"
    sections = [(title, getattr(card, key).strip()) for key, title in CARD_TITLES.items()
                if card is not None and getattr(card, key)]
    sections += [(title, text.strip()) for title, text in (card.custom_sections.items() if card else [])]
    return Card(metadata=metadata, title=" ".join((spec.display_name or spec.name).split()),
                description=loaded.description,
                sections=sections, features=[_feature(f) for f in spec.features],
                provenance=_provenance(loaded, model_fqn, facts, spec_commit), no_results=no_results)


def _results(spec: Any, facts: ProductionVersion) -> dict[str, Any]:
    """One result: the run's metrics, on the dataset they were computed on when MLflow says which."""
    evaluated = next((d for d in facts.datasets if not d.is_training), None)
    dataset = ({"name": evaluated.name, "type": evaluated.source_type or "mlflow-dataset"} if evaluated else
               {"name": f"MLflow run {facts.run_id or '?'}", "type": "mlflow-run"})
    task = (spec.model_card.task if spec.model_card and spec.model_card.task else DEFAULT_TASK)
    return {"task": {"type": task}, "dataset": dataset,
            "metrics": [{"type": name, "value": value, "name": name} for name, value in sorted(facts.metrics.items())]}


def _feature(feature: Any) -> dict[str, Any]:
    sources = []
    for source in feature.sources:
        identity = source_identity(source)
        sources.append(identity.asset + (f".{identity.child}" if identity.child else ""))
    return {"name": feature.name, "type": feature.type, "description": feature.description, "sources": sources}


def _provenance(loaded: LoadedSpec, model_fqn: str, facts: ProductionVersion | None,
                spec_commit: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"catalog_model": model_fqn, "spec": loaded.display_path}
    if spec_commit:
        found["spec_commit"] = spec_commit
    if facts is not None:
        found.update(registered_model=facts.registered_model, version=facts.version,
                     **{facts.recognised_by: facts.marker})
        found.update({k: v for k, v in (("run_id", facts.run_id), ("version_url", facts.version_url),
                                        ("run_url", facts.run_url)) if v})
    return found


def markdown(card: Card) -> str:
    front = yaml.safe_dump(card.metadata, sort_keys=False, allow_unicode=True, width=1000)
    parts = [f"---\n{front}---", f"# {card.title}"]
    if card.description:
        parts.append(card.description.strip())
    parts += [f"## {title}\n\n{text}" for title, text in card.sections]
    if card.features:
        rows = ["| Feature | Type | Description | Sources |", "| --- | --- | --- | --- |"]
        rows += [f"| {_cell(f['name'])} | {f['type']} | {_cell(f['description'] or '')} | "
                 f"{'<br>'.join(_cell(s) for s in f['sources'])} |" for f in card.features]
        parts.append("## Features\n\n" + "\n".join(rows))
    results = card.metadata.get("model-index")
    if results:
        rows = ["| Metric | Value |", "| --- | --- |"]
        rows += [f"| {_cell(m['name'])} | {m['value']:.6g} |" for m in results[0]["results"][0]["metrics"]]
        parts.append("## Results\n\n" + "\n".join(rows))
    elif card.no_results:
        parts.append(f"## Results\n\nNone: {card.no_results}.")
    parts.append("## Provenance\n\n" + "\n".join(f"- **{k.replace('_', ' ')}:** {_cell(str(v))}"
                                                  for k, v in card.provenance.items()))
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
