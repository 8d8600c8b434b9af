"""The registry facts as custom properties, without a server: typed values, the extension kept and cleaned,
setup's plan, a release without table-cp."""

from __future__ import annotations

from mlmeta.catalog import provenance
from mlmeta.catalog.provenance import set_up, setup_plan
from mlmeta.catalog.releases import capabilities
from mlmeta.registry.types import ProductionVersion


def facts(**overrides) -> ProductionVersion:
    values = {"registered_model": "churn", "version": "3", "recognised_by": "alias", "marker": "champion",
              "created_at": 1, "run_id": "r1", "metrics": {"rmse": 3.25, "r2": 0.5}, "logged_model_id": "m-1"}
    return ProductionVersion(**{**values, **overrides})


def test_values_are_typed_and_only_what_the_version_has():
    assert provenance.values(facts(), "abc123") == {
        "mlflowRegisteredModel": "churn", "mlflowVersion": 3, "mlflowAlias": "champion", "mlflowRunId": "r1",
        "mlflowLoggedModelId": "m-1", "specCommit": "abc123",
        "mlflowMetrics": {"columns": ["metric", "value"],
                          "rows": [{"metric": "r2", "value": "0.5"}, {"metric": "rmse", "value": "3.25"}]}}
    staged = provenance.values(facts(recognised_by="stage", marker="Production", run_id=None, metrics={},
                                     logged_model_id=None), None)
    assert staged == {"mlflowRegisteredModel": "churn", "mlflowVersion": 3, "mlflowStage": "Production"}


def test_extension_keeps_other_properties_and_drops_stale_ones():
    current = {"extension": {"owner_cost_center": "42", "mlflowAlias": "champion", "mlflowRunId": "old"}}
    defined = frozenset({"mlflowAlias", "mlflowStage", "mlflowRunId"})
    assert provenance.extension(current, {"mlflowStage": "Production", "mlflowVersion": 4}, defined) == {
        "owner_cost_center": "42", "mlflowStage": "Production"}  # mlflowVersion: not defined on this server


def test_setup_plan_never_replaces_a_property_of_another_type():
    steps = {s.name: s.status for s in provenance.setup_plan({"mlflowVersion": "integer", "mlflowRunId": "markdown"})}
    assert steps["mlflowVersion"] == "exists" and steps["mlflowRunId"] == "conflict"
    assert steps["mlflowAlias"] == "created"


class _CatalogThatForgets:
    """A catalog whose server accepts each definition and keeps none (what the check is for)."""

    release = capabilities("2.0.7")

    def custom_properties(self, entity_type: str) -> dict[str, str]:
        return {"specCommit": "string"}

    def property_type_id(self, name: str) -> str:
        return f"id-of-{name}"

    def add_custom_property(self, entity_type: str, definition: dict) -> dict[str, str]:
        return {}


def test_a_definition_the_server_accepts_but_does_not_hold_is_failed():
    steps = {step.name: step for step in set_up(_CatalogThatForgets())}
    assert steps["specCommit"].status == "exists"
    assert steps["mlflowVersion"].status == "failed" and "does not hold it" in steps["mlflowVersion"].message


def test_a_release_without_table_cp_leaves_the_metrics_out():
    steps = {step.name: step.status for step in setup_plan({}, {"table-cp": "not in 1.5.3"})}
    assert steps["mlflowMetrics"] == "unavailable" and steps["mlflowVersion"] == "created"
