"""What mlmeta needs to know from a model registry, as plain data (no mlflow import here).

``ProductionVersion`` is filled by a registry adapter - ``mlmeta.registry.mlflow`` or
``mlmeta.registry.kubeflow`` (Kubeflow Model Registry) - and the planner reads it to enrich a
spec. Keeping it SDK-free lets the core and its tests run without mlflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SignatureInput:
    name: str
    type: str  # MLflow's column type: string, double, long, boolean, datetime ...


TRAINING_CONTEXTS = ("training", "train")  # mlflow.data.context values of training data (autolog: "train")


@dataclass(frozen=True)
class LoggedDataset:
    """A dataset MLflow recorded as an input of the version's run (``mlflow.log_input``), or named
    by its logged model's metrics (MLflow 3) - as logged, before any mapping to the catalog."""

    name: str
    digest: str
    source_type: str  # MLflow's dataset source type: spark, delta_table, local, s3, http, hugging_face, code ...
    source: str  # the source as MLflow stores it: a JSON document, e.g. {"table_name": "..."} or {"uri": "..."}
    context: str | None = None  # the mlflow.data.context tag: training, eval, ...
    columns: tuple[str, ...] = ()  # from the dataset's schema, when it names columns
    origin: str = "run"  # "run" (the version's run, or the logged model's source run) or "logged model"

    @property
    def is_training(self) -> bool:
        """Training data: logged with a training context. One logged without a context is not counted:
        MLflow records the dataset of ``log_metric(..., dataset=...)`` - evaluation data - that way too."""
        return self.context is not None and self.context.lower() in TRAINING_CONTEXTS

    @property
    def label(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else self.name


@dataclass(frozen=True)
class Wanted:
    """What says which version of one registered model is in Production: an MLflow alias or stage,
    or a Kubeflow Model Registry rule (``mlmeta.registry.kubeflow_rules.Rule``)."""

    registered_model: str
    alias: str | None = None
    stage: str | None = None
    rule: Any = None


def version_label(version: str) -> str:
    """How messages name a version: MLflow's numbers as v3, Kubeflow's names (v1, 2.0.1, ...) as they are."""
    return f"v{version}" if version.isdigit() else version


# what recognised a Production version -> how to say it ("alias `champion`")
RECOGNISED_BY = {"alias": "alias", "stage": "stage", "property": "custom property", "label": "label",
                 "newest_live": "newest LIVE version", "version_property": "model's custom property"}


@dataclass(frozen=True)
class Promotion:
    """Which version is in Production, and what said so - one cheap look-up, no facts yet."""

    registered_model: str
    version: str
    recognised_by: str  # "alias" or "stage"; Kubeflow: "property", "label", "newest_live", "version_property"
    marker: str  # the alias or stage name (Kubeflow: "stage=production", the label, "LIVE", the property)

    def describe(self) -> str:
        return f"{RECOGNISED_BY.get(self.recognised_by, self.recognised_by)} `{self.marker}`"


@dataclass(frozen=True)
class ProductionVersion:
    registered_model: str
    version: str
    recognised_by: str  # as Promotion.recognised_by
    marker: str  # the alias or stage name that made it Production
    created_at: int | None  # ms since epoch
    run_id: str | None = None
    run_name: str | None = None
    run_user: str | None = None
    run_started_at: int | None = None
    experiment_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    signature: tuple[SignatureInput, ...] | None = None  # None: no signature logged
    flavors: tuple[str, ...] = ()
    estimator: str | None = None  # the estimator's class name, as autolog records it (estimator_of)
    artifact_uri: str | None = None  # where the model's files are (download URI)
    version_url: str | None = None  # the version in the MLflow UI
    run_url: str | None = None
    logged_model_id: str | None = None  # MLflow 3: the logged model (m-...) the version was registered from
    datasets: tuple[LoggedDataset, ...] = ()  # the run's inputs (and the logged model's), as logged
    registry: str = "mlflow"  # "mlflow" or "kubeflow"
    author: str | None = None  # who registered the version (Kubeflow: the version's author)
    model_format: str | None = None  # Kubeflow: the model artifact's format name and version, e.g. "sklearn 1"
    version_description: str | None = None  # Kubeflow: the version's own description
    properties: dict[str, str] = field(default_factory=dict)  # Kubeflow: the version's custom properties, as text

    @property
    def training_datasets(self) -> tuple[LoggedDataset, ...]:
        return tuple(d for d in self.datasets if d.is_training)

    @property
    def promotion(self) -> Promotion:
        return Promotion(self.registered_model, self.version, self.recognised_by, self.marker)

    @property
    def algorithm(self) -> str | None:
        """A readable default for the entity's algorithm: the estimator, else the main flavor."""
        if self.estimator:
            return self.estimator
        specific = [f for f in self.flavors if f != "python_function"]
        return specific[0] if specific else None

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


PIPELINES = ("sklearn.pipeline.Pipeline",)  # whose own class says nothing of the algorithm: its last step does


def estimator_of(tags: dict[str, str], params: dict[str, str]) -> str | None:
    """The estimator's class name, as MLflow's autolog records it on the run (sklearn, pyspark.ml):
    the ``estimator_class`` tag's last part (``sklearn.ensemble._gb.GradientBoostingRegressor`` ->
    ``GradientBoostingRegressor``); for a scikit-learn Pipeline, its final step's class, read from
    the ``steps`` parameter autolog logs; else the ``estimator_name`` tag (some scripts set only
    that). None when the run records no estimator: the flavour (``sklearn``) is no algorithm."""
    qualified = (tags.get("estimator_class") or "").strip()
    if qualified in PIPELINES:
        return final_step(params.get("steps") or "") or tags.get("estimator_name") or None
    if qualified:
        return qualified.rsplit(".", 1)[-1]
    return (tags.get("estimator_name") or "").strip() or None


_STEP = re.compile(r"\(\s*(['\"])[^'\"]*\1\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def final_step(steps: str) -> str | None:
    """The class of a Pipeline's last step, from the repr of its ``steps`` that autolog logs:
    ``[('columntransformer', ColumnTransformer(...)), ('gradientboostingregressor', GradientBoostingRegressor(...))]``.
    Only the list's own items count (a step's parameters may hold (name, estimator) pairs too); None
    when the text is cut short or is no such list."""
    found, depth, quote, escaped = None, 0, None, False
    for i, char in enumerate(steps):
        if quote:
            quote = None if char == quote and not escaped else quote
            escaped = char == "\\" and not escaped
        elif char in "'\"":
            quote = char
        elif char in "([{":
            if depth == 1 and char == "(":
                match = _STEP.match(steps, i)
                found = match.group(2) if match else found
            depth += 1
        elif char in ")]}":
            depth -= 1
    return found if depth == 0 and quote is None else None


class RegistryError(Exception):
    """The registry said no (missing model, unreachable); the message says what and where."""

    def __init__(self, message: str, *, code: str = "R004", transient: bool = False,
                 error_code: str | None = None, loc: tuple | None = None) -> None:
        super().__init__(message)
        self.loc = loc  # where in the spec the finding goes, when not at the registered model
        self.code = code  # the finding code a spec gets for it
        self.transient = transient  # the registry kept failing; the spec is not to blame
        self.error_code = error_code  # MLflow's own code (RESOURCE_DOES_NOT_EXIST ...), when it answered
