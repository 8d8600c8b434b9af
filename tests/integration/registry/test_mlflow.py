"""The MLflow adapter reads what a run logged for training - in the batched reads it already makes."""

from __future__ import annotations

import uuid

import pytest

from mlmeta.registry.mlflow import MlflowRegistry
from mlmeta.registry.types import Wanted


@pytest.fixture(scope="module")
def with_datasets(mlflow_server):
    """A run that logged a training table and an evaluation metric on a dataset, tied to its logged model."""
    import mlflow
    import pandas as pd
    from mlflow.data.spark_dataset_source import SparkDatasetSource

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("mlmeta-adapter-datasets")
    frame = pd.DataFrame({"user_id": [1, 2, 3], "premium": [True, False, True]})
    train = mlflow.data.from_pandas(frame, source=SparkDatasetSource(table_name="postgres.public.users"), name="users")
    holdout = mlflow.data.from_pandas(frame.head(2), source="s3://ml-eval/holdout.parquet", name="holdout")
    with mlflow.start_run() as run:
        mlflow.log_input(train, context="training")
        info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), input_example=frame)
        mlflow.log_metric("auc", 0.91, dataset=holdout, model_id=info.model_id)
    return info, run.info.run_id


def register(mlflow_server, info, run_id: str | None) -> tuple[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url)
    name = f"ds_{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    version = client.create_model_version(name, source=info.model_uri, run_id=run_id, model_id=info.model_id)
    client.set_registered_model_alias(name, "champion", version.version)
    return name, version.version


def test_facts_carry_the_runs_training_datasets_and_the_logged_models_evaluation_ones(mlflow_server, with_datasets):
    info, run_id = with_datasets
    name, _ = register(mlflow_server, info, run_id)
    facts = MlflowRegistry(mlflow_server.url).production_version(Wanted(name, "champion", None))
    by_name = {d.name: d for d in facts.datasets}
    users = by_name["users"]
    assert (users.source_type, users.context, users.origin) == ("spark", "training", "run")
    assert '"table_name": "postgres.public.users"' in users.source and users.columns == ("user_id", "premium")
    assert [d.name for d in facts.training_datasets] == ["users"]
    holdout = by_name["holdout"]  # named by the logged model's metric: not training data
    assert not holdout.is_training and holdout.digest


def test_prefetched_facts_read_the_same_datasets_with_no_request_of_their_own(mlflow_server, with_datasets):
    info, run_id = with_datasets
    name, _ = register(mlflow_server, info, run_id)
    direct = MlflowRegistry(mlflow_server.url).production_version(Wanted(name, "champion", None))
    batched = MlflowRegistry(mlflow_server.url)
    batched.prefetch([name])
    promotion = batched.promotion(Wanted(name, "champion", None))
    batched.prefetch_facts([promotion])
    before = batched.requests
    facts = batched.facts(promotion)
    assert facts.datasets == direct.datasets
    assert batched.requests - before == 1  # the MLmodel file alone


def test_a_version_registered_from_a_logged_model_alone_gets_its_source_runs_datasets(mlflow_server, with_datasets):
    info, _ = with_datasets
    name, _ = register(mlflow_server, info, None)
    facts = MlflowRegistry(mlflow_server.url).production_version(Wanted(name, "champion", None))
    assert "users" in [d.name for d in facts.training_datasets]
