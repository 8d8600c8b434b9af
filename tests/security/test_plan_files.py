"""A saved plan is untrusted input: it may come from a pull request's artifacts. It is bounded,
validated in shape and format version, and it cannot name a write of its own - every write applied
is one the project's own specs produce against today's catalog and registry, equal to the plan's."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, entity, writes


def refused_file(cli, in_tmp: Path, content: bytes | str, name: str = "plan.json"):
    path = in_tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli("publish", "--plan", str(path), env={"OPENMETADATA_HOST": "http://127.0.0.1:9",
                                                       "OPENMETADATA_JWT_TOKEN": "x" * 40})
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr


MINIMAL = {"mlmeta_plan": 1, "mlmeta": "0.1.0", "created_at": "2026-12-01T00:00:00Z",
           "openmetadata": {"address": "http://127.0.0.1:9/api", "version": "2.0.7"},
           "registry": {"kind": "mlflow", "address": "http://127.0.0.1:5000"},
           "options": {"create_service": False, "strict": False, "refresh": False}, "specs": [], "models": []}


def test_a_plan_file_is_bounded_and_never_read_whole_when_too_big(cli, in_tmp):
    with open(in_tmp / "plan.json", "wb") as stream:
        stream.truncate(16 * 1024 * 1024 + 1)
    said = refused_file(cli, in_tmp, (in_tmp / "plan.json").read_bytes())
    assert "larger than 16 MiB" in said


@pytest.mark.parametrize("content, said", [
    (b"\xff\xfe not text", "is not JSON"),
    ("{not json", "is not JSON"),
    ("[" * 200_000 + "]" * 200_000, "is not JSON"),  # nesting that would exhaust the parser's stack
    ("[]", "is not an mlmeta plan of format 1"),
    (json.dumps({**MINIMAL, "mlmeta_plan": 2}), "is not an mlmeta plan of format 1 (mlmeta_plan: 2)"),
    (json.dumps({**MINIMAL, "extra": 1}), "is not a plan mlmeta wrote: extra: Extra inputs are not permitted"),
    (json.dumps({k: v for k, v in MINIMAL.items() if k != "models"}), "models: Field required"),
    (json.dumps({**MINIMAL, "specs": [{"path": "a.yaml", "sha256": "0" * 64, "commit": None}] * 2,
                 "models": []}), "a spec is listed twice"),
    (json.dumps({**MINIMAL, "models": [{"spec": "a.yaml", "model": "svc.a", "status": "created"}]}),
     "its models and its specs do not match"),
    (json.dumps({**MINIMAL, "models": [{"spec": "a.yaml", "model": "svc.a", "status": "deleted"}],
                 "specs": [{"path": "a.yaml", "sha256": "0" * 64, "commit": None}]}), "models.0.status"),
    (json.dumps({**MINIMAL, "specs": [{"path": "a.yaml", "sha256": "../../etc/passwd", "commit": None}]}),
     "specs.0.sha256"),
])
def test_a_malformed_plan_is_a_usage_error_naming_what_is_wrong(cli, in_tmp, content, said):
    assert said in refused_file(cli, in_tmp, content)


def test_a_fifo_as_the_plan_file_does_not_block(cli, in_tmp):
    os.mkfifo(in_tmp / "plan.json")
    result = cli("publish", "--plan", "plan.json", env={"OPENMETADATA_HOST": "http://127.0.0.1:9",
                                                        "OPENMETADATA_JWT_TOKEN": "x" * 40})
    assert result.exit_code == 2 and "is not a regular file" in result.stderr


def test_a_plan_decides_the_specs_and_options(cli, in_tmp):
    write(in_tmp / "plan.json", json.dumps(MINIMAL))
    result = cli("publish", "--plan", "plan.json", "--all", "--create-service", env={})
    assert result.exit_code == 2
    assert "--plan applies the saved plan as it was made: leave out --all, --create-service" in result.stderr


# --- against the servers: a tampered plan writes nothing -------------------------------------------------


@pytest.fixture
def planned(cli, env, registry, in_tmp):
    """A valid plan creating one model: (its name, the plan as data)."""
    name = f"tampered_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    result = cli("plan", "-o", "plan.json", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    return name, json.loads((in_tmp / "plan.json").read_text())


def tampered(in_tmp: Path, plan: dict) -> None:
    (in_tmp / "plan.json").write_text(json.dumps(plan))


TAMPERINGS = {
    "description": lambda entry: entry["create"].update(description="Approved text replaced after review"),
    "owners": lambda entry: entry["create"].update(owners=[{"id": str(uuid.uuid4()), "type": "user"}]),
    "service": lambda entry: entry.update(service="attacker_service"),
    "lineage": lambda entry: entry["lineage"]["draw"][0]["details"].update(description="an edge nobody approved"),
}
def test_a_tampered_write_is_refused_and_nothing_is_written(cli, env, sandbox, planned, in_tmp):
    name, plan = planned
    for change, tamper in TAMPERINGS.items():
        altered = json.loads(json.dumps(plan))
        tamper(altered["models"][0])
        tampered(in_tmp, altered)
        sandbox.reset_stats()
        result = cli("publish", "--plan", "plan.json", env=env)
        assert result.exit_code == 1, (change, result.stdout)
        assert "would differ from the plan's" in result.stdout, change
        assert writes(sandbox) == {}, change
    tampered(in_tmp, plan)  # the plan as made still applies
    assert cli("publish", "--plan", "plan.json", env=env).exit_code == 0
    assert entity(sandbox, name)["description"] == plan["models"][0]["create"]["description"]
def test_a_plan_cannot_aim_its_writes_at_another_model(cli, env, sandbox, planned, in_tmp):
    name, plan = planned
    plan["models"][0]["model"] = "mlflow_models.someone_elses_model"
    tampered(in_tmp, plan)
    sandbox.reset_stats()
    result = cli("publish", "--plan", "plan.json", env=env)
    assert result.exit_code == 1
    assert f"refused: mlflow_models.{name} is not in the saved plan" in result.stdout
    assert writes(sandbox) == {}
def test_a_plan_naming_a_spec_outside_the_project_reads_nothing_there(cli, env, sandbox, planned, in_tmp):
    name, plan = planned
    outside = in_tmp.parent / f"outside-{name}.yaml"
    outside.write_text(SPEC.format(name="victim", registered=name))
    plan["specs"][0]["path"] = plan["models"][0]["spec"] = str(outside)
    tampered(in_tmp, plan)
    sandbox.reset_stats()
    result = cli("publish", "--plan", "plan.json", env=env)
    assert result.exit_code == 1
    assert f"refused: {outside} is not among the project's specs (spec_paths) any more" in result.stdout
    assert sandbox.stats()["requests"] == {}  # decided before any server was asked
    assert entity(sandbox, "victim").get("code") == 404
def test_a_plan_holds_no_credential_and_applies_with_them(cli, env, sandbox, registry, in_tmp):
    name = f"credentials_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    password = f"pw-{uuid.uuid4().hex}"
    env = {**env, "MLFLOW_TRACKING_URI": env["MLFLOW_TRACKING_URI"].replace("http://", f"http://alice:{password}@")}
    assert cli("plan", "-o", "plan.json", env=env).exit_code == 0
    text = (in_tmp / "plan.json").read_text()
    assert password not in text and env["OPENMETADATA_JWT_TOKEN"] not in text and "alice" not in text
    result = cli("publish", "--plan", "plan.json", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert entity(sandbox, name)["name"] == name
