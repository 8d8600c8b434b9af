"""``mlmeta validate --online`` against the sandbox and a real MLflow server: reads only."""

from __future__ import annotations

import uuid

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, writes


def test_online_checks_find_what_offline_cannot_and_write_nothing(cli, sandbox, mlflow_server, registry, in_tmp):
    good, unpromoted = (f"online_{uuid.uuid4().hex[:8]}" for _ in range(2))
    registry.alias(good, registry.register(good))
    registry.register(unpromoted)
    write(in_tmp / "model_specs" / "good.yaml", SPEC.format(name=good, registered=good))
    write(in_tmp / "model_specs" / "unpromoted.yaml", SPEC.format(name="unpromoted", registered=unpromoted))
    broken = SPEC.format(name="broken", registered="nowhere").replace("rating", "stars")
    write(in_tmp / "model_specs" / "broken.yaml", broken + "tags: [Tier.Tier9]\nowners:\n  teams: [ghosts]\n")
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
           "MLFLOW_TRACKING_URI": mlflow_server.url}
    assert cli("validate", env=env).exit_code == 0  # offline, all three are well-formed
    result = cli("validate", "--online", env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert ("model_specs/broken.yaml:6:21: error R004 mlflow.registered_model: registered model 'nowhere' not found "
            f"in MLflow at {mlflow_server.url}") in lines
    assert any(line.startswith("model_specs/broken.yaml:19:17: error R002") and "'stars'" in line for line in lines)
    assert "model_specs/broken.yaml:29:8: error R009 tags[0]: tag 'Tier.Tier9' not found in OpenMetadata" in lines
    assert "model_specs/broken.yaml:31:11: error R009 owners.teams[0]: team 'ghosts' not found in OpenMetadata" in lines
    assert any(line.startswith("model_specs/unpromoted.yaml:6:21: warning R005") for line in lines)
    assert not any(line.startswith("model_specs/good.yaml") for line in lines)
    assert writes(sandbox) == {}
    # which release answered, and the behaviours mlmeta follows for it
    assert lines[0] == ("OpenMetadata 2.0.7 as played by mlmeta's sandbox (not a real OpenMetadata server); in effect: "
                        "domains, if_match, content_etags, table_cp, edge_audit, strict_names")


def test_online_json_names_the_release_and_its_switches(cli, mlflow_server, in_tmp):
    import json

    from mlmeta.standins.openmetadata import Sandbox

    write(in_tmp / "model_specs" / "one.yaml", SPEC.format(name="one", registered="one"))
    with Sandbox(server_version="1.10.3") as server:
        result = cli("validate", "--online", "--format", "json", env={
            "OPENMETADATA_HOST": server.url, "OPENMETADATA_JWT_TOKEN": server.token(),
            "MLFLOW_TRACKING_URI": mlflow_server.url})
    release = json.loads(result.stdout)["openmetadata"]
    assert (release["version"], release["newer_than_known"], release["sandbox"]) == ("1.10.3", False, True)
    switches = {s["key"]: s["on"] for s in release["switches"]}
    assert switches["if_match_drops_entity_fields"] and switches["domains"] and not switches["strict_names"]


def test_a_mistyped_table_or_team_gets_a_did_you_mean(cli, sandbox, mlflow_server, registry, in_tmp):
    name = f"online_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    spec = SPEC.format(name=name, registered=name).replace("public.restaurants", "public.restaurantz")
    write(in_tmp / "model_specs" / "typos.yaml", spec + "owners:\n  teams: [ml_platfrm]\n")
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
           "MLFLOW_TRACKING_URI": mlflow_server.url}
    result = cli("validate", "--online", env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert ("model_specs/typos.yaml:18:16: error R001 features[1].sources[0].table: table "
            "'demo_pg.postgres.public.restaurantz' not found in OpenMetadata; did you mean "
            "'demo_pg.postgres.public.restaurants'?") in lines
    assert ("model_specs/typos.yaml:30:11: error R009 owners.teams[0]: team 'ml_platfrm' not found in OpenMetadata; "
            "did you mean 'ml_platform'?") in lines
    assert writes(sandbox) == {}
