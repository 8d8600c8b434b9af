"""mlmeta init against a real MLflow server: the starter spec validates as written."""

from __future__ import annotations

import uuid

import yaml

from mlmeta.catalog.datasets import MappedDataset
from mlmeta.commands.init import Column, Proposal, match, model_name, next_step, propose, scalar, starter_spec
from mlmeta.registry.types import LoggedDataset, ProductionVersion, SignatureInput, estimator_of, final_step
from mlmeta.commands.validate import validate_files


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
    facts = _facts("tenure", "orders")
    every, some = propose(facts, [_dataset("tenure", "orders")]), propose(facts, [_dataset("tenure")])
    assert next_step(facts, every) == (
        "check the feature sources proposed from the training datasets, add the descriptions, then run mlmeta validate")
    assert next_step(facts, some) == (
        "check the sources proposed for 1 of the 2 features, add the other features' sources and the descriptions, "
        "then run mlmeta validate")
    assert next_step(facts) == "add the feature sources and descriptions, then run mlmeta validate"
    assert next_step(_facts()) == "list the features with their sources and descriptions, then run mlmeta validate"
    header = starter_spec(facts, service="s", schema_ref=None, datasets=[_dataset("tenure", "orders")]).splitlines()[1]
    assert header == "# TODO: describe the model, and check the feature sources proposed from its training datasets."
    checked = {"tenure": Proposal((Column("table", "svc.db.public.users", "tenure", "INT"),)),
               "orders": Proposal((Column("table", "svc.db.public.users", "orders", "INT"),))}
    assert next_step(facts, checked) == ("every feature's source was found in the catalog; add the descriptions, then "
                                         "run mlmeta validate")


USERS = "svc.db.public.users"


def _columns(**types: str) -> list[Column]:
    return [Column("table", USERS, name, data_type) for name, data_type in types.items()]


def test_a_feature_gets_the_columns_of_its_name_and_type_and_near_matches_only_as_a_comment():
    columns = _columns(premium="BOOLEAN", Tenure_Days="INT", tenure_days="VARCHAR", country="VARCHAR",
                       last_update="TIMESTAMP", payload="STRUCT")
    assert match(SignatureInput("country", "string"), columns) == Proposal((columns[3],))
    assert match(SignatureInput("last_update", "datetime"), columns).sources == (columns[4],)  # a time is numerical
    # exact first: the column of the very name and type wins over one that differs by case and underscores
    folded = match(SignatureInput("tenuredays", "long"), columns)
    assert folded.sources == (columns[1],)
    assert [(c.name, why) for c, why in folded.near] == [
        ("tenure_days", "VARCHAR: categorical, the feature is numerical")]
    # a name that only looks alike, or the name with another type, is never a source
    premium = match(SignatureInput("is_premium", "boolean"), columns)
    assert premium.sources == () and premium.near == ((columns[0], "BOOLEAN, a similar name"),)
    typed = match(SignatureInput("country", "double"), columns)
    assert typed.sources == () and typed.near == ((columns[3], "VARCHAR: categorical, the feature is numerical"),)
    assert match(SignatureInput("payload", "string"), columns).sources == ()  # a struct feeds neither kind as it is
    assert match(SignatureInput("restaurant_dimension", "double"), columns) == Proposal()


def test_the_spec_writes_found_columns_as_sources_and_near_matches_as_comments_and_validates(tmp_path):
    facts = ProductionVersion("churn", "1", "alias", "champion", None, estimator="GradientBoostingRegressor",
                              signature=(SignatureInput("country", "string"), SignatureInput("is_premium", "boolean")))
    columns = _columns(country="VARCHAR", premium="BOOLEAN")
    text = starter_spec(facts, service="s", schema_ref=None, datasets=[_dataset("whatever")],
                        proposals={c.name: match(c, columns) for c in facts.signature})
    spec = yaml.safe_load(text)
    assert spec["algorithm"] == "GradientBoostingRegressor"
    assert spec["features"][0]["sources"] == [{"table": USERS, "column": "country"}]
    assert spec["features"][1]["sources"] == []
    assert f"    #   - {{table: {USERS}, column: premium}}  # BOOLEAN, a similar name" in text
    path = tmp_path / "churn.yaml"
    path.write_text(text)
    assert validate_files([path]).exit_code == 0


def test_the_algorithm_is_the_estimator_autolog_records_never_the_flavour():
    steps = ("[('columntransformer', ColumnTransformer(remainder='passthrough',\n                  transformers=[("
             "'onehotencoder', OneHotEncoder(), ['b'])])), ('gradientboostingregressor', "
             "GradientBoostingRegressor(n_estimators=5))]")  # as mlflow.sklearn.autolog logs a make_pipeline
    pipeline = {"estimator_class": "sklearn.pipeline.Pipeline", "estimator_name": "Pipeline"}
    assert estimator_of(pipeline, {"steps": steps}) == "GradientBoostingRegressor"
    assert estimator_of(pipeline, {"steps": steps[:90]}) == "Pipeline"  # cut short: no guess
    assert estimator_of({"estimator_class": "sklearn.ensemble._forest.RandomForestClassifier"}, {}) == \
        "RandomForestClassifier"
    assert final_step("[('stack', StackingRegressor(estimators=[('lr', LinearRegression())]))]") == "StackingRegressor"
    assert estimator_of({"estimator_name": "GradientBoostingRegressor"}, {}) == "GradientBoostingRegressor"
    assert estimator_of({}, {}) is None
    flavour_only = ProductionVersion("churn", "1", "alias", "champion", None, flavors=("python_function", "sklearn"),
                                     params={"steps": steps})
    text = starter_spec(flavour_only, service="s", schema_ref=None)
    assert "\nalgorithm:" not in text and "(its flavour is sklearn)" in text
    assert yaml.safe_load(text)["hyperparameters"] == {"steps": {}}  # a multi-line value stays in its comment


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

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("example_train", REPO / "examples" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

