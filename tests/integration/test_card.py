"""``mlmeta card``: a Hugging Face model card, checked by huggingface_hub's own parser (offline)."""

from __future__ import annotations

import json
import uuid

from huggingface_hub import ModelCard

from tests.helpers.files import REPO
from tests.helpers.files import write


def demo_spec(in_tmp, name: str) -> str:
    text = (REPO / "model_specs" / "delivery_time.yaml").read_text(encoding="utf-8")
    text = text.replace("name: delivery_time", f"name: {name}").replace("registered_model: delivery_time",
                                                                        f"registered_model: {name}")
    return str(write(in_tmp / "model_specs" / f"{name}.yaml", text))


def test_the_demo_models_card_passes_hugging_faces_validation_with_the_runs_metrics(cli, env, registry, in_tmp):
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    spec = demo_spec(in_tmp, name)
    registry.alias(name, registry.register(name))
    result = cli("card", spec, "-o", "card/README.md", env=env)
    assert result.exit_code == 0, result.stderr
    card = ModelCard((in_tmp / "card" / "README.md").read_text(encoding="utf-8"))  # raises on bad metadata
    assert card.data.license == "other" and "Tier.Tier2" in card.data.tags
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert set(metrics) == {"mae", "r2", "rmse"} and all(isinstance(v, float) for v in metrics.values())
    assert {r.task_type for r in card.data.eval_results} == {"tabular-regression"}
    assert "## Intended use" in card.text and "| is_premium | categorical |" in card.text
    assert f"- **registered model:** {name}" in card.text and "- **alias:** champion" in card.text

    as_data = json.loads(cli("card", spec, "--format", "json", env=env).stdout)
    assert as_data["metadata"]["model-index"][0]["results"][0]["metrics"][0]["type"] == "mae"
    assert as_data["markdown"] == (in_tmp / "card" / "README.md").read_text(encoding="utf-8")


def test_without_a_production_version_the_card_is_written_without_results_and_says_why(cli, env, in_tmp):
    name = f"nowhere_{uuid.uuid4().hex[:8]}"
    result = cli("card", demo_spec(in_tmp, name), env=env)
    assert result.exit_code == 0
    assert "the card has no results: registered model" in result.stderr and "not found in MLflow" in result.stderr
    card = ModelCard(result.stdout)
    assert card.data.eval_results is None and "## Results\n\nNone: registered model" in card.text
