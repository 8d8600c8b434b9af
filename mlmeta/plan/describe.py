"""The model's description: the human text, the model-card sections, then a generated section
with what the registry and git say (version, promotion, run, metrics, the spec's commit).

Deterministic on purpose: the same spec, registry facts and commit give the same Markdown, so
an unchanged re-publish finds nothing to write.
"""

from __future__ import annotations

from datetime import datetime, timezone

from mlmeta.registry.table import kind_of
from mlmeta.registry.types import ProductionVersion
from mlmeta.spec.model import ModelCard

GENERATED_MARKER = "<!-- mlmeta:generated - this section is rewritten on every publish -->"
# the model-card sections in the order a card reads (Mitchell et al., "Model Cards for Model
# Reporting"; human oversight as the EU AI Act's technical documentation asks for it)
CARD_TITLES = {
    "intended_use": "Intended use",
    "out_of_scope_use": "Out-of-scope use",
    "factors": "Factors",
    "training_data": "Training data",
    "evaluation": "Evaluation",
    "evaluation_data": "Evaluation data",
    "metrics": "Metrics",
    "quantitative_analyses": "Quantitative analyses",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
    "human_oversight": "Human oversight",
    "caveats_and_recommendations": "Caveats and recommendations",
}
MAX_METRICS = 12


def render(human: str | None, card: ModelCard | None, facts: ProductionVersion | None,
           spec_path: str, spec_commit: str | None) -> str:
    parts = [human.strip()] if human and human.strip() else []
    parts += _card_sections(card)
    parts.append(_generated(facts, spec_path, spec_commit))
    return "\n\n".join(parts) + "\n"


def _card_sections(card: ModelCard | None) -> list[str]:
    if card is None:
        return []
    sections = [f"## {title}\n\n{text.strip()}" for key, title in CARD_TITLES.items()
                if (text := getattr(card, key))]
    sections += [f"## {title}\n\n{text.strip()}" for title, text in card.custom_sections.items()]
    return sections


def _generated(facts: ProductionVersion | None, spec_path: str, spec_commit: str | None) -> str:
    lines = ["---", GENERATED_MARKER]
    if facts is not None:
        version = f"[{facts.version}]({facts.version_url})" if facts.version_url else facts.version
        kind = kind_of(facts.registry)
        promotion = facts.promotion.describe() + (f" in {kind.label}" if kind.named_in_results else "")
        registered = f", registered {_when(facts.created_at)}" if facts.created_at else ""
        by = f" by `{facts.author}`" if facts.author else ""
        lines.append(f"- **In production:** version {version} of registered model `{facts.registered_model}` "
                     f"({promotion}){registered}{by}")
        lines += _version_details(facts)
        if facts.run_id:
            name = facts.run_name or facts.run_id
            run = f"[{name}]({facts.run_url})" if facts.run_url else name
            by = f" by `{facts.run_user}`" if facts.run_user else ""
            lines.append(f"- **Run:** {run} (`{facts.run_id}`){by}")
        if facts.metrics:
            shown = sorted(facts.metrics.items())[:MAX_METRICS]
            lines.append("- **Metrics:** " + " · ".join(f"`{k}` {_number(v)}" for k, v in shown))
    commit = f" at commit `{spec_commit[:12]}`" if spec_commit else ""
    lines.append(f"- **Documented in:** `{spec_path}`{commit}")
    return "\n".join(lines)


def _version_details(facts: ProductionVersion) -> list[str]:
    """What a Kubeflow version says of itself (MLflow's versions carry none of it here)."""
    lines = []
    if facts.version_description:
        lines.append(f"- **Version:** {facts.version_description.strip()}")
    if facts.model_format:
        lines.append(f"- **Format:** {facts.model_format}")
    if facts.properties:
        lines.append("- **Properties:** " + " · ".join(f"`{k}` {v}" if v else f"`{k}`"
                                                        for k, v in sorted(facts.properties.items())))
    return lines


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: float) -> str:
    return f"{value:.4g}"
