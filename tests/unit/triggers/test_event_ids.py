"""An event id, offline: a publish that fails again keeps its id, the one that succeeds gets another."""

from __future__ import annotations

from mlmeta.commands.publish import ModelResult
from mlmeta.triggers.promotions import catalog_generation


def test_a_publish_that_fails_again_keeps_its_id_and_the_one_that_succeeds_gets_another():
    def result(status: str, before: float | None, after: float | None) -> ModelResult:
        return ModelResult("model_specs/churn.yaml", "mlflow_models.churn", status, before, after)

    failed = catalog_generation([result("failed", 0.3, 0.3)])
    assert failed == catalog_generation([result("failed", 0.3, 0.3)])  # a rerun that fails the same way
    assert failed != catalog_generation([result("updated", 0.3, 0.4)])  # the rerun that wrote it
    assert catalog_generation([result("failed", None, None)]) == "mlflow_models.churn@new:failed"
