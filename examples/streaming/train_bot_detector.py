"""Train the streaming example's model (examples/streaming/bot_detector.yaml), log it to MLflow
and register it.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python examples/streaming/train_bot_detector.py

The model tells bots from people by a user's last 10 minutes of browsing, as KSQL computes them
from the ``events`` topic (a hopping-window aggregate, EVENTS_IN_10_MINUTES_WINDOW), joined with
the users table streamed from MySQL by CDC (``mysql.demo.users``). The data is synthetic, shaped
like those topics. It logs parameters, metrics and a signature, and registers a new version of
``bot_detector``. Needs the full mlflow, scikit-learn and pandas (mlmeta's dev extra).

The labelled sessions it trains on are an export in S3; it logs them as its training dataset by
their URI, which the project's ``[tool.mlmeta.datasets.storage]`` rule maps to the container
``s3.ml-training.bot_detector``.
"""

from __future__ import annotations

import argparse
import os

import mlflow
import mlflow.data
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

COUNTRIES = ["PL", "DE", "US", "GB", "FR"]
PLATFORMS = ["web", "ios", "android"]
SESSIONS_URI = "s3://ml-training/bot_detector/sessions-2026-11.parquet"


def synthetic_sessions(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    is_bot = rng.random(rows) < 0.2
    views = lambda human, bot: np.where(is_bot, rng.poisson(bot, rows), rng.poisson(human, rows))  # noqa: E731
    features = pd.DataFrame({
        "country": rng.choice(COUNTRIES, rows),
        # bots mostly browse the web listing and product pages, rarely look at galleries, seldom order;
        # the distributions overlap, as real traffic does
        "platform": np.where(is_bot & (rng.random(rows) < 0.7), "web", rng.choice(PLATFORMS, rows)),
        "product_views": views(6, 11), "listing_views": views(3, 6), "gallery_views": views(4, 2),
        "nb_orders": np.where(is_bot, rng.poisson(0.3, rows), rng.poisson(1.5, rows)),
    })
    return features, pd.Series(is_bot, name="is_bot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registered-model", default="bot_detector")
    parser.add_argument("--experiment", default="bot-detector")
    parser.add_argument("--n-estimators", type=int, default=40)
    parser.add_argument("--max-depth", type=int, default=6)
    options = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        parser.error("set MLFLOW_TRACKING_URI to your MLflow tracking server")

    features, labels = synthetic_sessions(3000, seed=11)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=11)
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["country", "platform"]),
                                     remainder="passthrough")
    model = make_pipeline(encode, RandomForestClassifier(n_estimators=options.n_estimators,
                                                         max_depth=options.max_depth, random_state=11))
    model.fit(x_train, y_train)
    predicted, scores = model.predict(x_test), model.predict_proba(x_test)[:, 1]
    metrics = {"accuracy": float(accuracy_score(y_test, predicted)), "f1": float(f1_score(y_test, predicted)),
               "roc_auc": float(roc_auc_score(y_test, scores))}

    mlflow.set_experiment(options.experiment)
    with mlflow.start_run(run_name=f"rf-{options.n_estimators}-trees") as run:
        mlflow.log_params({"n_estimators": options.n_estimators, "max_depth": options.max_depth})
        mlflow.log_metrics(metrics)
        mlflow.set_tag("estimator_name", "RandomForestClassifier")
        sessions = mlflow.data.from_pandas(x_train.assign(is_bot=y_train), source=SESSIONS_URI, name="sessions",
                                           targets="is_bot")
        mlflow.log_input(sessions, context="training")
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x_train, predicted),
                                        input_example=x_train.head(3), serialization_format="cloudpickle",
                                        registered_model_name=options.registered_model)
    print(f"run {run.info.run_id}: {', '.join(f'{k}={v:.3f}' for k, v in metrics.items())}")
    print(f"registered {options.registered_model} version {info.registered_model_version}")


if __name__ == "__main__":
    main()
