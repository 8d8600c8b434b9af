"""``mlmeta import``'s pure parts: the description split from the model card, catalog text quoted, sources
and the connector's models recognised, one file per model."""

from __future__ import annotations

import json

import yaml

from mlmeta.catalog import ownership
from mlmeta.commands.catalog_import import render, spec_data, split_description
from mlmeta.plan.describe import GENERATED_MARKER
from tests.helpers.files import write


def test_the_description_splits_into_the_human_text_and_the_model_card():
    text = (f"Predicts churn.\n\n## Notes of ours\n\nKept.\n\n## Intended use\n\nRetention offers.\n\n"
            f"## Limitations\n\nNew users.\n\n---\n{GENERATED_MARKER}\n- **In production:** version 3")
    assert split_description(text) == ("Predicts churn.\n\n## Notes of ours\n\nKept.",
                                       {"intended_use": "Retention offers.", "limitations": "New users."})


def test_catalog_text_is_quoted_so_that_it_can_never_become_a_key():
    hostile = "Fine.\nname: stolen\nservice: elsewhere\n# not a comment"
    entity = {"name": "churn", "fullyQualifiedName": "svc.churn", "service": {"fullyQualifiedName": "svc"},
              "description": hostile, "displayName": 'x: "y" #z',
              "mlFeatures": [{"name": "tenure", "dataType": "numerical", "description": "- a list?\n  - no",
                              "featureSources": [{"name": "tenure", "dataSource": {
                                  "type": "table", "fullyQualifiedName": "pg.db.public.users"}}]}]}
    text = render(spec_data(entity, [], "svc"), ["from svc.churn\nname: injected"])
    data = yaml.safe_load(text)
    assert data["name"] == "churn" and data["description"] == hostile and data["display_name"] == 'x: "y" #z'
    assert data["features"][0]["description"] == "- a list?\n  - no" and "service" not in data
    assert data["features"][0]["sources"] == [{"table": "pg.db.public.users", "column": "tenure"}]
    assert "# from svc.churn\\u000aname: injected" in text  # the header's line break is escaped, not obeyed


def test_a_whole_asset_source_a_field_and_the_connectors_placeholder_algorithm():
    entity = {"name": "m", "fullyQualifiedName": "svc.m", "algorithm": ownership.CONNECTOR_ALGORITHM,
              "mlFeatures": [{"name": "clicks", "dataType": "numerical", "featureSources": [
                  {"name": "events", "dataSource": {"type": "topic", "fullyQualifiedName": "kafka.events"}},
                  {"name": "payload.clicks", "dataType": "integer",
                   "dataSource": {"type": "topic", "fullyQualifiedName": "kafka.events"}}]}]}
    data = spec_data(entity, [], "svc")
    assert "algorithm" not in data
    assert data["features"][0]["sources"] == [{"topic": "kafka.events"},
                                              {"topic": "kafka.events", "field": "payload.clicks"}]


def test_the_connectors_models_are_recognised_and_mlmetas_are_not():
    connector = {"name": "churn", "sourceUrl": "http://mlflow:5000/#/models/churn", "algorithm": "mlmodel",
                 "sourceHash": "0123456789abcdef0123456789abcdef"}
    assert ownership.by_connector(connector)
    assert ownership.connector_registered_model(connector) == "churn"
    assert not ownership.by_connector({**connector, "sourceHash": "mlmeta:0123"})
    assert not ownership.by_connector({"name": "churn", "sourceUrl": "http://mlflow:5000/#/models/churn/versions/3",
                                       "sourceHash": "mlmeta:0123"})
    assert not ownership.by_connector({"name": "hand_made", "algorithm": "xgboost"})


def test_import_needs_one_file_per_model_and_never_overwrites(cli, in_tmp):
    result = cli("import", "-o", "x.yaml", "svc.a", "svc.b")
    assert result.exit_code == 2 and "-o names one file" in result.stderr
    write(in_tmp / "taken.yaml", "mine\n")
    result = cli("import", "-o", "taken.yaml", "svc.a")
    assert result.exit_code == 2 and "never overwrites" in result.stderr
    assert (in_tmp / "taken.yaml").read_text() == "mine\n"
    assert json.loads(cli("import", "--format", "json", "-o", "taken.yaml", "svc.a").stdout)["error"]
