"""mlmeta init against a real MLflow server: the starter spec validates as written."""

from __future__ import annotations

import uuid

import yaml


def test_init_writes_a_spec_from_the_production_version_that_validates(cli, mlflow_server, registry, in_tmp):
    name = f"starter_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    target = in_tmp / "model_specs" / f"{name}.yaml"
    assert cli("schema", "-o", "mlmeta.schema.json").exit_code == 0  # what the README tells users to run
    result = cli("init", "--from-mlflow", name, "--service", "mlflow_models", "-o", str(target), env=env)
    assert result.exit_code == 0, result.stderr
    text = target.read_text()
    assert text.startswith("# yaml-language-server: $schema=../mlmeta.schema.json\n")
    assert "TODO" in text and "(in Production by alias champion)" in text
    spec = yaml.safe_load(text)
    assert spec["algorithm"] == "GradientBoostingRegressor"
    assert [(f["name"], f["type"]) for f in spec["features"]] == [
        ("last_update_bucket", "categorical"), ("restaurant_dimension", "numerical"), ("is_premium", "categorical")]
    assert all(f["sources"] == [] for f in spec["features"])
    assert sorted(spec["hyperparameters"]) == ["learning_rate", "max_depth", "n_estimators"]
    assert cli("validate", str(target)).exit_code == 0
    again = cli("init", "--from-mlflow", name, "-o", str(target), env=env)
    assert again.exit_code == 2 and "never overwrites" in again.stderr


def test_init_starts_from_the_latest_version_when_nothing_is_promoted(cli, mlflow_server, registry, in_tmp):
    name = f"starter_{uuid.uuid4().hex[:8]}"
    registry.register(name)
    registry.register(name, run=1)
    result = cli("init", "--from-mlflow", name, env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.exit_code == 0
    assert "from version 2 (the latest version; none is in Production yet)" in result.stdout
    assert "$schema" not in result.stdout  # the project has no schema file: no reference to a missing one
    assert "mlflow:\n  registered_model:" in result.stdout and "alias:" not in result.stdout


def test_init_writes_the_alias_and_stage_asked_for_even_when_no_version_carries_them(cli, mlflow_server, registry,
                                                                                      in_tmp):
    name = f"starter_{uuid.uuid4().hex[:8]}"
    registry.register(name)
    env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    result = cli("init", "--from-mlflow", name, "--alias", "nosuch", "--stage", "Staging", env=env)
    assert result.exit_code == 0, result.stderr
    assert "none is in Production yet" in result.stdout
    assert yaml.safe_load(result.stdout)["mlflow"] == {"registered_model": name, "alias": "nosuch", "stage": "Staging"}
    wrong = cli("init", "--from-mlflow", name, "--stage", "Archived", env=env)
    assert wrong.exit_code == 2 and "--stage Archived: a spec accepts Production or Staging" in wrong.stderr


def test_init_of_an_unknown_model_is_a_usage_error(cli, mlflow_server, in_tmp):
    result = cli("init", "--from-mlflow", "nope_never", env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.exit_code == 2 and "registered model 'nope_never' not found" in result.stderr


def test_init_names_the_estimator_autolog_records_for_a_pipeline(cli, mlflow_server, in_tmp):
    """mlflow.sklearn.autolog tags a Pipeline's run estimator_class=sklearn.pipeline.Pipeline and logs its steps:
    the algorithm is the final step's class, not the pipeline and not the flavour (sklearn)."""
    import mlflow

    example = _example_training_script()
    name = f"autolog_{uuid.uuid4().hex[:8]}"
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("mlmeta-autolog")
    mlflow.sklearn.autolog(log_models=False, log_datasets=False, silent=True)
    try:
        with mlflow.start_run() as run:
            model, sample, _ = example.train(5, 0.1, 2)  # the fit autolog records
            info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                            pip_requirements=["scikit-learn"],
                                            signature=mlflow.models.infer_signature(sample, model.predict(sample)))
    finally:
        mlflow.sklearn.autolog(disable=True)
    client = mlflow.MlflowClient(mlflow_server.url)
    assert client.get_run(run.info.run_id).data.tags["estimator_class"] == "sklearn.pipeline.Pipeline"
    client.create_registered_model(name)
    version = client.create_model_version(name, source=info.model_uri, run_id=run.info.run_id,
                                          model_id=info.model_id).version
    client.set_registered_model_alias(name, "champion", version)
    result = cli("init", "--from-mlflow", name, env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.exit_code == 0, result.stderr
    spec = yaml.safe_load(result.stdout)  # autolog's multi-line 'steps' parameter stays inside its comment
    assert spec["algorithm"] == "GradientBoostingRegressor"
    assert "gradientboostingregressor__n_estimators" in spec["hyperparameters"]
    (in_tmp / "autolog.yaml").write_text(result.stdout.replace("\nmlmeta: 1\n", "\nmlmeta: 1\nservice: s\n"))
    assert cli("validate", "autolog.yaml").exit_code == 0


def _example_training_script():
    import importlib.util

    from tests.helpers.files import REPO

    spec = importlib.util.spec_from_file_location("example_train", REPO / "examples" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
