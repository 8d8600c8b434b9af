"""``mlmeta init``'s pure parts: names and scalars, the next step, the columns a feature gets, the
algorithm autolog records."""

from __future__ import annotations

import yaml

from mlmeta.catalog.datasets import MappedDataset
from mlmeta.commands.init import Column, Proposal, match, model_name, next_step, propose, scalar, starter_spec
from mlmeta.commands.validate import validate_files
from mlmeta.registry.types import LoggedDataset, ProductionVersion, SignatureInput, estimator_of, final_step


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
