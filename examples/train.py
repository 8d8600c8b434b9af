"""Train the example model of model_specs/delivery_time.yaml, log it to MLflow and register it.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/train.py [--n-estimators 50]

The model estimates delivery time from the three features the spec documents
(last_update_bucket, restaurant_dimension, is_premium); the data is synthetic, shaped like the
demo_pg orders/restaurants/users tables. It logs parameters, metrics and a signature, and
registers a new version of the registered model (default: delivery_time). Needs the full mlflow,
scikit-learn and pandas (mlmeta's dev extra).

It also logs what it trained on, as a training script should (``mlflow.log_input``): the three
tables by their Spark table names (``postgres.public.orders`` ...; the project's
``[tool.mlmeta.datasets.tables]`` rule maps them to ``demo_pg.postgres.public.*``), and a public
holiday calendar read over HTTP, which no catalog asset holds. ``--tables`` changes which tables
it says it read (``--tables orders,restaurants`` leaves users out).

``--inputs columns`` trains a model that takes the tables' columns as they are (``last_update``,
``rating``, ``average_price``, ``premium``) and derives what it needs inside its pipeline, as many
models do: each of its inputs is a column the catalog holds, so ``mlmeta init`` finds every source
(docs/getting-started.md follows it).
"""

from __future__ import annotations

import argparse
import os

import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.spark_dataset_source import SparkDatasetSource
from mlflow.models import infer_signature
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

BUCKETS = ["night", "morning", "noon", "afternoon", "evening"]


def synthetic_orders(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({
        "last_update_bucket": rng.choice(BUCKETS, rows),
        "restaurant_dimension": rng.normal(0.0, 1.0, rows),
        "is_premium": rng.random(rows) < 0.3,
    })
    rush = features["last_update_bucket"].isin(["noon", "evening"]).astype(float)
    minutes = (30 + 8 * rush + 4 * features["restaurant_dimension"] - 5 * features["is_premium"]
               + rng.normal(0, 3, rows))
    return features, minutes.rename("expected_time")


def synthetic_columns(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The tables' own columns, joined per order: when it was last updated, the restaurant's rating and
    average price, whether the user is premium."""
    rng = np.random.default_rng(seed)
    columns = pd.DataFrame({
        "last_update": pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 7 * 24 * 60, rows), unit="min"),
        "rating": rng.integers(1, 6, rows),
        "average_price": rng.integers(8, 60, rows),
        "premium": rng.random(rows) < 0.3,
    })
    rush = columns["last_update"].dt.hour.isin([12, 13, 19, 20]).astype(float)
    minutes = (30 + 8 * rush + 1.5 * (columns["rating"] - 3) + 0.1 * (columns["average_price"] - 30)
               - 5 * columns["premium"] + rng.normal(0, 3, rows))
    return columns, minutes.rename("expected_time")


def hour_of_day(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(lambda column: column.dt.hour)


TABLES = ("orders", "restaurants", "users")
HOLIDAYS_URL = "https://opendata.example.com/public-holidays/2026.csv"  # read for the rush-hour calendar


def log_training_data(features: pd.DataFrame, tables: list[str]) -> None:
    """Record each input of the training set: the table it was read from, its schema and digest."""
    columns = {"orders": ["order_id", "restaurant_id", "user_id", "last_update"],
               "restaurants": ["restaurant_id", "rating", "average_price"], "users": ["user_id", "premium"]}
    for table in tables:
        frame = pd.DataFrame({column: features.index for column in columns[table]})
        source = SparkDatasetSource(table_name=f"postgres.public.{table}")
        mlflow.log_input(mlflow.data.from_pandas(frame, source=source, name=table), context="training")
    calendar = pd.DataFrame({"date": ["2026-01-01", "2026-05-01"], "name": ["New Year", "Labour Day"]})
    mlflow.log_input(mlflow.data.from_pandas(calendar, source=HTTPDatasetSource(HOLIDAYS_URL), name="holidays"),
                     context="training")


def fit_and_score(prepare, data: pd.DataFrame, target: pd.Series, n_estimators: int, learning_rate: float,
                  max_depth: int, seed: int):
    """Fit ``prepare`` + gradient boosting on three quarters of the rows; score it on the rest."""
    x_train, x_test, y_train, y_test = train_test_split(data, target, test_size=0.25, random_state=seed)
    model = make_pipeline(prepare, GradientBoostingRegressor(n_estimators=n_estimators, learning_rate=learning_rate,
                                                             max_depth=max_depth, random_state=seed))
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {"rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
               "mae": float(mean_absolute_error(y_test, predicted)), "r2": float(r2_score(y_test, predicted))}
    return model, x_train, metrics


def train(n_estimators: int, learning_rate: float, max_depth: int, seed: int = 7):
    features, target = synthetic_orders(2000, seed)
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["last_update_bucket"]),
                                     remainder="passthrough")
    return fit_and_score(encode, features, target, n_estimators, learning_rate, max_depth, seed)


def train_on_columns(n_estimators: int, learning_rate: float, max_depth: int, seed: int = 7):
    """The same estimator on the tables' columns: the hour of ``last_update`` is derived in the pipeline."""
    columns, target = synthetic_columns(2000, seed)
    hours = make_column_transformer((FunctionTransformer(hour_of_day), ["last_update"]), remainder="passthrough")
    return fit_and_score(hours, columns, target, n_estimators, learning_rate, max_depth, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registered-model", default="delivery_time")
    parser.add_argument("--experiment", default="delivery-time")
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--tables", default=",".join(TABLES), help="the tables it says it trained on")
    parser.add_argument("--inputs", choices=("features", "columns"), default="features",
                        help="what the model takes: the features model_specs/delivery_time.yaml documents, or the "
                             "tables' columns as they are")
    options = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("set MLFLOW_TRACKING_URI to your MLflow tracking server")

    mlflow.set_experiment(options.experiment)
    trainer = train_on_columns if options.inputs == "columns" else train
    model, sample, metrics = trainer(options.n_estimators, options.learning_rate, options.max_depth)
    with mlflow.start_run(run_name=f"gbr-{options.n_estimators}-trees") as run:
        mlflow.log_params({"n_estimators": options.n_estimators, "learning_rate": options.learning_rate,
                           "max_depth": options.max_depth})
        mlflow.log_metrics(metrics)
        mlflow.set_tag("estimator_name", "GradientBoostingRegressor")
        log_training_data(sample, [t for t in options.tables.split(",") if t])
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(sample, model.predict(sample)),
                                        input_example=sample.head(3), serialization_format="cloudpickle",
                                        registered_model_name=options.registered_model)
    print(f"run {run.info.run_id}: {', '.join(f'{k}={v:.3f}' for k, v in metrics.items())}")
    print(f"registered {options.registered_model} version {info.registered_model_version}")


if __name__ == "__main__":
    main()
