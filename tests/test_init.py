"""mlmeta init against a real MLflow server: the starter spec validates as written."""

from __future__ import annotations

import uuid

import yaml

from mlmeta.datasets import MappedDataset
from mlmeta.init import model_name, next_step, scalar, starter_spec
from mlmeta.registry import LoggedDataset, ProductionVersion, SignatureInput


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


def test_names_and_scalars():
    assert model_name("main.ml.churn") == "churn"
    assert scalar("plain_name") == "plain_name"
    assert scalar("yes") == '"yes"' and scalar("a: b") == '"a: b"' and scalar("12") == '"12"'


def _facts(*columns: str) -> ProductionVersion:
    return ProductionVersion("churn", "1", "alias", "champion", None,
                             signature=tuple(SignatureInput(c, "double") for c in columns))


def _dataset(*columns: str) -> MappedDataset:
    logged = LoggedDataset("users", "abc", "spark", '{"table_name": "svc.db.public.users"}', "training", columns)
    return MappedDataset(logged, "table", "svc.db.public.users")


def test_the_next_step_says_what_is_left_once_sources_were_proposed():
    """init ended with "add the feature sources" even after it had proposed every one of them."""
    every, some = [_dataset("tenure", "orders")], [_dataset("tenure")]
    assert next_step(_facts("tenure", "orders"), every) == (
        "check the feature sources proposed from the training datasets, add the descriptions, then run mlmeta validate")
    assert next_step(_facts("tenure", "orders"), some) == (
        "check the sources proposed for 1 of the 2 features, add the other features' sources and the descriptions, "
        "then run mlmeta validate")
    assert next_step(_facts("tenure", "orders")) == "add the feature sources and descriptions, then run mlmeta validate"
    assert next_step(_facts()) == "list the features with their sources and descriptions, then run mlmeta validate"
    header = starter_spec(_facts("tenure", "orders"), service="s", schema_ref=None, datasets=every).splitlines()[1]
    assert header == "# TODO: describe the model, and check the feature sources proposed from its training datasets."
