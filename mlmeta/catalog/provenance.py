"""Provenance as data: the registry's facts of the Production version as typed custom properties
of the ML model (its ``extension``), so the catalog can search and filter on them. The rules are
pure; ``defined`` and ``set_up`` take the catalog adapter as a parameter.

The definitions live on the server's ``mlmodel`` type. Creating them is an explicit step,
``mlmeta setup`` (or ``publish --create-properties``), never a side effect of publishing:
changing the catalog's type system is an administrator's decision. Publishing writes only the
properties the server defines with the type mlmeta expects; the rest of ``extension`` (other
tools' and people's properties) is kept as it is.

A property of the same name but another type is never replaced: the server's addCustomProperty
would delete it and, with it, every value stored under it on every entity (TypeRepository).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mlmeta.registry.types import ProductionVersion

ENTITY_TYPE = "mlmodel"
METRIC_COLUMNS = ("metric", "value")


@dataclass(frozen=True)
class Property:
    name: str
    type: str  # the server's property type (a Type of category "field")
    description: str
    config: Any = None  # customPropertyConfig.config, for types that need one

    def definition(self, type_id: str) -> dict[str, Any]:
        """The body of ``PUT /v1/metadata/types/{mlmodel type id}``."""
        body: dict[str, Any] = {"name": self.name, "description": self.description,
                                "propertyType": {"id": type_id, "type": "type"}}
        if self.config is not None:
            body["customPropertyConfig"] = {"config": self.config}
        return body


PROPERTIES = (
    Property("mlflowRegisteredModel", "string", "Registered model in the MLflow Model Registry (written by mlmeta)."),
    Property("mlflowVersion", "integer", "Model version in Production (written by mlmeta)."),
    Property("mlflowAlias", "string", "Alias that marks the version as Production, e.g. champion (written by mlmeta)."),
    Property("mlflowStage", "string", "Classic stage that marks the version as Production (written by mlmeta)."),
    Property("mlflowRunId", "string", "MLflow run that trained the Production version (written by mlmeta)."),
    Property("mlflowLoggedModelId", "string", "MLflow 3 logged model of the Production version (written by mlmeta)."),
    Property("mlflowMetrics", "table-cp", "Training metrics of the run, as logged (written by mlmeta).",
             {"columns": list(METRIC_COLUMNS)}),
    Property("mlflowTrainingDatasets", "table-cp", "Datasets the run logged for training: name, digest, and the "
             "catalog asset (or the source as logged) (written by mlmeta).",
             {"columns": ["dataset", "digest", "source"]}),
    Property("specCommit", "string", "Git commit of the spec the model was published from (written by mlmeta)."),
    # not a fact of the version: the project (repository) that owns the model - see mlmeta.catalog.ownership
    Property("mlmetaProject", "string", "The project whose specs publish this model, e.g. github.com/acme/models; "
             "mlmeta's prune, retire and drift act only on their own project's models (written by mlmeta)."),
)
BY_NAME = {p.name: p for p in PROPERTIES}


def values(facts: ProductionVersion, spec_commit: str | None, training_datasets: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """Each property's value for this version; a property with no value is absent.
    ``training_datasets``: the table of the version's training datasets (``mlmeta.plan.training``)."""
    result: dict[str, Any] = {"mlflowRegisteredModel": facts.registered_model}
    if facts.version.isdigit():
        result["mlflowVersion"] = int(facts.version)
    if facts.recognised_by in ("alias", "stage"):  # Kubeflow Model Registry has neither (the description says)
        result["mlflowAlias" if facts.recognised_by == "alias" else "mlflowStage"] = facts.marker
    if facts.run_id:
        result["mlflowRunId"] = facts.run_id
    if facts.logged_model_id:
        result["mlflowLoggedModelId"] = facts.logged_model_id
    if facts.metrics:
        rows = [{"metric": name, "value": f"{value:g}"} for name, value in sorted(facts.metrics.items())]
        result["mlflowMetrics"] = {"columns": list(METRIC_COLUMNS), "rows": rows}
    if training_datasets:
        result["mlflowTrainingDatasets"] = training_datasets
    if spec_commit:
        result["specCommit"] = spec_commit
    return result


def extension(current: dict[str, Any] | None, wanted: dict[str, Any], defined: frozenset[str]) -> dict[str, Any]:
    """The entity's ``extension`` after a publish: others' properties as they are, mlmeta's (those
    the server defines) set to this version's values, or removed when this version has none."""
    kept = {k: v for k, v in ((current or {}).get("extension") or {}).items() if k not in defined}
    kept.update({k: v for k, v in wanted.items() if k in defined})
    return kept


@dataclass(frozen=True)
class SetupStep:
    name: str
    type: str
    # "exists", "created" (in a dry run: would be), "conflict", "unavailable" (the release lacks the
    # type) or "failed" (the server accepted the definition but does not hold it)
    status: str
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "status": self.status, "message": self.message}


SETUP_STATUSES = ("created", "exists", "conflict", "unavailable", "failed")


def setup_plan(existing: dict[str, str], unavailable: dict[str, str] | None = None) -> list[SetupStep]:
    """What ``mlmeta setup`` does with the server's properties (name -> type name) of ``mlmodel``;
    ``unavailable``: property types the server's release lacks, with why."""
    steps = []
    for prop in PROPERTIES:
        found = existing.get(prop.name)
        if found is None and prop.type in (unavailable or {}):
            steps.append(SetupStep(prop.name, prop.type, "unavailable", unavailable[prop.type]))
        elif found is None:
            steps.append(SetupStep(prop.name, prop.type, "created"))
        elif found == prop.type:
            steps.append(SetupStep(prop.name, prop.type, "exists"))
        else:
            steps.append(SetupStep(prop.name, prop.type, "conflict",
                                   f"already defined as {found!r}; left as it is (replacing it would delete its "
                                   f"values on every ML model) - mlmeta does not write it"))
    return steps


def usable(existing: dict[str, str] | None) -> frozenset[str]:
    """mlmeta's properties the server defines with the expected type: the ones publish writes."""
    return frozenset(p.name for p in PROPERTIES if (existing or {}).get(p.name) == p.type)


def defined(catalog: Any) -> frozenset[str]:
    """mlmeta's properties the catalog defines, usable by publish; none when the server has no
    types API for it (a 404), so that publishing works the same without them."""
    from mlmeta.catalog.records import CatalogError

    try:
        return usable(catalog.custom_properties(ENTITY_TYPE))
    except CatalogError as error:
        if error.status == 404:
            return frozenset()
        raise


def _unavailable(release: Any) -> dict[str, str]:
    if release.has("table_cp"):
        return {}
    return {"table-cp": f"needs the table-cp property type, which OpenMetadata has from 1.5.7 (this server runs "
                        f"{release.version}); the metrics stay in the description, the training datasets are left out"}


def set_up(catalog: Any, *, dry_run: bool = False) -> list[SetupStep]:
    """Define on the ``mlmodel`` type each of mlmeta's properties it lacks (idempotent: a second run
    creates nothing); a property of the same name and another type is reported, never replaced.
    Each definition is checked against what the server then holds."""
    steps = setup_plan(catalog.custom_properties(ENTITY_TYPE), _unavailable(catalog.release))
    if dry_run:
        return steps
    held: dict[str, str] = {}
    for step in steps:
        if step.status == "created":
            prop = BY_NAME[step.name]
            held = catalog.add_custom_property(ENTITY_TYPE, prop.definition(catalog.property_type_id(prop.type)))
    if any(step.status == "created" and held.get(step.name) != step.type for step in steps):
        held = catalog.custom_properties(ENTITY_TYPE)  # the answers do not show them all: read the type back
    return [step if step.status != "created" or held.get(step.name) == step.type else
            replace(step, status="failed", message=f"OpenMetadata {catalog.release.version} accepted the definition "
                                                   "but does not hold it (read back after the write)")
            for step in steps]
