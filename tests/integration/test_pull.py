"""``mlmeta pull`` against the sandbox: descriptions edited in the catalog come back into the spec,
with comments, order and layout kept byte for byte outside the changed values; then plan shows no
change for them."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers.pulling import SPEC, edit_in_ui, publish_spec


@pytest.fixture
def published(cli, sandbox, mlflow_server, registry, in_tmp):
    return publish_spec(cli, sandbox, mlflow_server, registry, in_tmp, SPEC)


def improved(sandbox, name: str) -> None:
    model = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", timeout=10,
                         headers={"Authorization": f"Bearer {sandbox.token('admin')}"}).json()
    description = model["description"].replace("Estimates how long an order takes to arrive.",
                                                "Estimates how long an order takes to reach the door.\n\n"
                                                "Used by the checkout page.")
    features = model["mlFeatures"]
    features[0]["description"] = "Hours since the order was last touched, bucketed."
    features[1]["description"] = "Written by the data team."
    parameters = model["mlHyperParameters"]
    for parameter in parameters:
        if parameter["name"] == "n_estimators":
            parameter["description"] = "Boosting stages (trees)."
    edit_in_ui(sandbox, name, [{"op": "replace", "path": "/description", "value": description},
                               {"op": "replace", "path": "/mlFeatures", "value": features},
                               {"op": "replace", "path": "/mlHyperParameters", "value": parameters}])


def test_pull_writes_the_catalogs_texts_and_keeps_everything_else_byte_for_byte(cli, sandbox, published):
    name, path, env = published
    before = path.read_text()
    improved(sandbox, name)
    dry = cli("pull", "--dry-run", env=env)
    assert dry.exit_code == 0 and path.read_text() == before  # --dry-run writes nothing
    assert "+description: |" in dry.stdout and "would take 3 text(s)" in dry.stdout
    assert cli("pull", env=env).exit_code == 0
    after = path.read_text()
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert removed == ["description: Estimates how long an order takes to arrive.",
                       "    description: \"Hours since the order's last update, in buckets.\"",
                       "    description: Number of boosting stages.   # tuned weekly"]
    assert added == ["description: |", "  Estimates how long an order takes to reach the door.", "",
                     "  Used by the checkout page.",
                     "    description: \"Hours since the order was last touched, bucketed.\"",
                     "    description: Boosting stages (trees).     # tuned weekly"]  # the comment keeps its column
    assert "Written by the data team" not in after  # the spec does not manage that description
    # the catalog and the spec agree now: plan changes nothing but mlmeta's bookkeeping
    plan = json.loads(cli("plan", "--format", "json", env=env).stdout)
    assert plan["models"][0]["changes"] == [] and plan["models"][0]["status"] == "unchanged"
    assert plan["models"][0]["message"].startswith("fingerprint only: the spec's text changed")


def test_pull_writes_a_description_file(cli, sandbox, published, in_tmp):
    name, path, env = published
    (in_tmp / "model_specs" / "eta.md").write_text("Estimates how long an order takes to arrive.\n")
    path.write_text(path.read_text().replace("description: Estimates how long an order takes to arrive.\n",
                                             "description_file: eta.md\n"))
    assert cli("publish", "--all", env=env).exit_code == 0
    spec_before = path.read_text()
    edit_in_ui(sandbox, name, [{"op": "replace", "path": "/description", "value": "Better words.\n\n---\n"
                                "<!-- mlmeta:generated - this section is rewritten on every publish -->\n- x"}])
    assert cli("pull", env=env).exit_code == 0
    assert (in_tmp / "model_specs" / "eta.md").read_text() == "Better words.\n"
    assert path.read_text() == spec_before


def test_nothing_to_pull_when_the_catalog_says_what_the_spec_says(cli, published):
    _, path, env = published
    before = path.read_text()
    result = cli("pull", env=env)
    assert result.exit_code == 0 and "took 0 text(s)" in result.stdout and path.read_text() == before


LAYOUT = """\
# header: who owns this spec
---
mlmeta: 1
name: {name}
service: mlflow_models
description: Old.
tags: [ Tier.Tier2 ]
mlflow:
  registered_model: {name}
features:
  - name: is_premium
    type: categorical
    sources: [ {{column: demo_pg.postgres.public.users.premium}} ]
hyperparameters:
    n_estimators:
        description: Number of boosting stages.
"""


def test_pull_keeps_what_precedes_a_document_start_flow_lists_and_every_blocks_indentation(cli, sandbox, mlflow_server,
                                                                                           registry, in_tmp):
    name, path, env = publish_spec(cli, sandbox, mlflow_server, registry, in_tmp, LAYOUT)
    before = path.read_text()
    model = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", timeout=10,
                         headers={"Authorization": f"Bearer {sandbox.token('admin')}"}).json()
    edit_in_ui(sandbox, name, [{"op": "replace", "path": "/description",
                                "value": model["description"].replace("Old.", "New.", 1)}])
    assert cli("pull", env=env).exit_code == 0
    assert path.read_text() == before.replace("description: Old.", "description: New.")
