from __future__ import annotations

from mlmeta.plan import describe
from mlmeta.registry.types import ProductionVersion
from mlmeta.spec.model import ModelCard

FACTS = ProductionVersion(registered_model="churn", version="3", recognised_by="alias", marker="champion",
                          created_at=1_700_000_000_000, run_id="abc", run_name="nightly", run_user="ci",
                          metrics={"rmse": 0.123456, "auc": 0.9}, version_url="http://mlflow/#/models/churn/versions/3",
                          run_url="http://mlflow/#/experiments/1/runs/abc")


def test_human_text_then_card_sections_then_the_generated_block():
    card = ModelCard(limitations="Urban only.", custom_sections={"Licence": "Apache-2.0"})
    text = describe.render("Predicts churn.", card, FACTS, "model_specs/churn.yaml", "0123456789abcdef")
    assert text.index("Predicts churn.") < text.index("## Limitations") < text.index("## Licence")
    assert text.index("## Licence") < text.index(describe.GENERATED_MARKER)
    assert "version [3](http://mlflow/#/models/churn/versions/3) of registered model `churn` (alias `champion`)" in text
    assert "registered 2023-11-14 22:13 UTC" in text
    assert "[nightly](http://mlflow/#/experiments/1/runs/abc) (`abc`) by `ci`" in text
    assert "`auc` 0.9 · `rmse` 0.1235" in text
    assert "`model_specs/churn.yaml` at commit `0123456789ab`" in text


def test_rendering_is_deterministic():
    first = describe.render("x", None, FACTS, "a.yaml", None)
    assert first == describe.render("x", None, FACTS, "a.yaml", None)
    assert "at commit" not in first
