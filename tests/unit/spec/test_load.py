from __future__ import annotations

from mlmeta.spec.convert import to_v1_yaml
from mlmeta.spec.load import DEMO, V1, load_spec
from tests.helpers.files import GOOD_SPEC, REPO, write


def test_the_repository_specs_are_valid():
    specs = sorted((REPO / "model_specs").glob("*.yaml"))
    assert specs
    for path in specs:
        result = load_spec(path)
        assert result.diagnostics == [], path
        assert result.spec.format == V1


def test_a_minimal_spec_loads_with_defaults(tmp_path):
    loaded = load_spec(write(tmp_path / "s.yaml", GOOD_SPEC)).spec
    assert loaded.spec.registered_model == "churn"
    assert loaded.spec.mlflow.alias is None  # the configured default applies later
    assert loaded.spec.mlflow.stage == "Production"
    assert loaded.spec.features[0].sources[0].column == "svc.db.public.users.tenure"


def test_description_file_is_read_relative_to_the_spec(tmp_path):
    write(tmp_path / "mlmeta.toml", "")  # the project's folder: files anywhere under it may be named
    write(tmp_path / "docs" / "churn.md", "# Churn\nPredicts who leaves.\n")
    spec = write(tmp_path / "specs" / "churn.yaml", GOOD_SPEC + "description_file: ../docs/churn.md\n")
    loaded = load_spec(spec).spec
    assert loaded.description == "# Churn\nPredicts who leaves.\n"


def test_hyperparameter_values_written_as_numbers_become_strings(tmp_path):
    spec = write(tmp_path / "s.yaml", GOOD_SPEC + "hyperparameters:\n  lr: {value: 0.1}\n  deep: {value: true}\n")
    params = load_spec(spec).spec.spec.hyperparameters
    assert params["lr"].value == "0.1" and params["deep"].value == "true"


def test_the_openmetadata_demo_file_is_accepted_and_converts_to_an_equal_v1_spec(tmp_path):
    demo = load_spec(REPO / "examples" / "openmetadata-demo" / "ml_model.yaml")
    assert demo.diagnostics == []
    assert demo.spec.format == DEMO
    spec = demo.spec.spec
    assert spec.service == "CustomMLService" and spec.name == "Revenue Predictions"
    # a source named after its table is the whole table; others are columns of it
    orders, = spec.features[0].sources
    assert (orders.table, orders.column, orders.data_type) == ("demo_pg.postgres.public.orders", None, "timestamp")
    rating = spec.features[1].sources[0]
    assert (rating.table, rating.column) == ("demo_pg.postgres.public.restaurants", "rating")
    assert spec.hyperparameters["regularisation"].value == "0.5"

    converted = write(tmp_path / "model_specs" / "revenue.yaml", to_v1_yaml(demo.spec, "../mlmeta.schema.json"))
    again = load_spec(converted)
    assert again.diagnostics == []
    assert again.spec.format == V1
    assert again.spec.spec == spec
    assert converted.read_text().startswith("# yaml-language-server: $schema=../mlmeta.schema.json\n")
