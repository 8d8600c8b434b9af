"""Train the delivery-time model into Kubeflow Model Registry, register it, and mark it Production.

    python examples/kubeflow/train.py http://127.0.0.1:8080 --version v1 [--production] [--n-estimators 50]

The training run goes through the registry's MLflow plugin (``model-registry-mlflow``): the script
keeps MLflow's tracking API, and ``mlflow.set_tracking_uri("modelregistry://host:port")`` stores
the run - parameters, metrics, the training tables it read (``mlflow.log_input``) and the logged
model - in Kubeflow Model Registry. The plugin cannot register models (it has no registry store),
so the version is registered with the official client (``model-registry``), pointing at the
logged model (``models:/<id>``, which is how mlmeta finds the run again).

``--production`` marks the version the team's way, as ``model_specs/delivery_time_kf.yaml`` declares
it: the custom property ``stage = production`` on the version, taken off the version that had it.
Needs mlmeta's dev extra (mlflow, scikit-learn, model-registry, model-registry-mlflow).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train import log_training_data, train  # noqa: E402  (the MLflow example's model and data)

REGISTERED_MODEL = "delivery_time_kf"


def log_run(options: argparse.Namespace) -> tuple[str, str]:
    """The training run, through the plugin: (run id, the logged model's URI)."""
    parts = urlsplit(options.registry)
    mlflow.set_tracking_uri(f"modelregistry+{parts.scheme}://{parts.hostname}:{parts.port}")
    mlflow.set_experiment("delivery-time-kf")
    model, sample, metrics = train(options.n_estimators, 0.1, 3)
    with mlflow.start_run(run_name=f"gbr-{options.n_estimators}-trees-{options.version}") as run:
        mlflow.log_params({"n_estimators": options.n_estimators, "learning_rate": 0.1, "max_depth": 3})
        mlflow.log_metrics(metrics)
        mlflow.set_tag("estimator_name", "GradientBoostingRegressor")
        log_training_data(sample, ["orders", "restaurants", "users"])
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(sample, model.predict(sample)),
                                        serialization_format="cloudpickle")
    print(f"run {run.info.run_id}: {', '.join(f'{k}={v:.3f}' for k, v in metrics.items())}")
    return run.info.run_id, info.model_uri


def register(options: argparse.Namespace, model_uri: str) -> None:
    import sklearn
    from model_registry import ModelRegistry

    parts = urlsplit(options.registry)
    token = os.environ.get("MODEL_REGISTRY_TOKEN")
    client = ModelRegistry(f"{parts.scheme}://{parts.hostname}", parts.port, author="alice",
                           is_secure=parts.scheme == "https", **({"user_token": token} if token else {}))
    client.register_model(REGISTERED_MODEL, model_uri, version=options.version, model_format_name="sklearn",
                          model_format_version=sklearn.__version__,
                          version_description=f"Gradient boosting, {options.n_estimators} trees")
    print(f"registered {REGISTERED_MODEL} version {options.version}")
    if options.production:
        for version in client.get_model_versions(REGISTERED_MODEL):
            if version.custom_properties and version.custom_properties.get("stage") == "production":
                version.custom_properties = {k: v for k, v in version.custom_properties.items() if k != "stage"} \
                    or {"stage": "retired"}  # the client cannot send an empty map
                client.update(version)
        version = client.get_model_version(REGISTERED_MODEL, options.version)
        version.custom_properties = {**(version.custom_properties or {}), "stage": "production"}
        client.update(version)
        print(f"{REGISTERED_MODEL} version {options.version}: stage = production")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("registry", help="the Kubeflow Model Registry's URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--version", default="v1", help="the version's name")
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--production", action="store_true", help="mark this version stage = production")
    options = parser.parse_args()
    _, model_uri = log_run(options)
    register(options, model_uri)


if __name__ == "__main__":
    main()
