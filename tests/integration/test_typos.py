"""Typos found at the right line, online: an alias no version carries, a service the catalog does
not have - in ``validate --online``, ``plan`` and ``publish`` alike - and a failed model that shows
its findings, never the diff of writes that were not made (a real MLflow server, the sandbox)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, writes


def spec_with_alias(name: str, alias: str | None) -> str:
    text = SPEC.format(name=name, registered=name)
    if alias is None:
        return text
    return text.replace(f"  registered_model: {name}\n", f"  registered_model: {name}\n  alias: {alias}\n")


@pytest.fixture
def promoted(registry, in_tmp):
    """A registered model whose v2 carries `champion` (v1 carries nothing)."""
    name = f"typo_{uuid.uuid4().hex[:8]}"
    registry.register(name)
    registry.alias(name, registry.register(name, run=1))
    return name


def test_a_mistyped_alias_fails_at_its_line_with_a_did_you_mean_everywhere(cli, env, sandbox, promoted, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", spec_with_alias(promoted, "champoin"))
    expected = ("model_specs/m.yaml:7:10: error R014 mlflow.alias: no version of '{0}' carries alias 'champoin'; "
                "did you mean 'champion'? (v2 carries it)").format(promoted)
    validated = cli("validate", "--online", env=env)
    assert validated.exit_code == 1 and expected in validated.stdout.splitlines()
    planned = cli("plan", env=env)
    assert planned.exit_code == 1 and "    " + expected in planned.stdout.splitlines()
    published = cli("publish", "--all", "--format", "json", env=env)
    assert published.exit_code == 1
    [model] = json.loads(published.stdout)["models"]
    assert model["status"] == "failed" and [(d["code"], d["line"], d["column"]) for d in model["diagnostics"]] == [
        ("R014", 7, 10)]
    assert writes(sandbox) == {}


def test_a_spec_naming_an_alias_its_versions_do_not_use_fails_and_lists_theirs(cli, env, sandbox, promoted, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", spec_with_alias(promoted, "production"))
    result = cli("publish", "--all", env=env)
    assert result.exit_code == 1
    assert ("    model_specs/m.yaml:7:10: error R014 mlflow.alias: no version of '{0}' carries alias 'production'; its "
            "versions carry 'champion' (v2). A spec's own alias must be one its model uses: fix it, or leave "
            "mlflow.alias out to wait for the project's ('champion')").format(promoted) in result.stdout.splitlines()
    assert writes(sandbox) == {}


def test_no_alias_yet_or_another_one_than_the_projects_is_not_in_production_yet(cli, env, sandbox, registry, in_tmp):
    fresh, challenged = (f"typo_{uuid.uuid4().hex[:8]}" for _ in range(2))
    registry.register(fresh)  # versions, no alias at all
    registry.alias(challenged, registry.register(challenged), alias="challenger")  # before its first champion
    write(in_tmp / "model_specs" / "fresh.yaml", spec_with_alias(fresh, None))
    write(in_tmp / "model_specs" / "challenged.yaml", spec_with_alias(challenged, None))
    result = cli("publish", "--all", "--format", "json", env=env)
    assert result.exit_code == 0, result.stdout
    out = json.loads(result.stdout)
    assert [m["status"] for m in out["models"]] == ["skipped", "skipped"]
    assert {d["code"] for m in out["models"] for d in m["diagnostics"]} == {"R005"}
    assert writes(sandbox) == {}


def test_a_mistyped_service_is_an_error_online_with_a_did_you_mean_and_no_diff(cli, env, sandbox, promoted, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", spec_with_alias(promoted, None).replace("service: mlflow_models",
                                                                                       "service: mlflow_modles"))
    expected = ("model_specs/m.yaml:3:10: error R008 service: ML model service 'mlflow_modles' not found in "
                "OpenMetadata; did you mean 'mlflow_models'?")
    validated = cli("validate", "--online", env=env)
    assert validated.exit_code == 1
    assert any(line.startswith(expected) for line in validated.stdout.splitlines()), validated.stdout
    # the publish of the merge will create it: then it is worth a word, not a failure
    creating = cli("validate", "--online", "--create-service", env=env)
    assert creating.exit_code == 0 and "notice R008" in creating.stdout
    for command in (["plan"], ["publish", "--all"]):
        result = cli(*command, env=env)
        assert result.exit_code == 1
        lines = result.stdout.splitlines()
        assert any(line.startswith("    " + expected) for line in lines), result.stdout
        # the model failed before any write: its findings, never a create diff
        assert not [line for line in lines if line.startswith(("    ~ ", "    + lineage"))], result.stdout
    published = json.loads(cli("publish", "--all", "--format", "json", env=env).stdout)
    assert published["models"][0]["changes"] == [] and published["models"][0]["lineage"]["added"] == []
    assert writes(sandbox) == {}


def test_a_failed_model_shows_no_diff_in_the_github_summary_either(cli, env, sandbox, promoted, in_tmp):
    write(in_tmp / "model_specs" / "m.yaml", spec_with_alias(promoted, None).replace("service: mlflow_models",
                                                                                       "service: mlflow_modles"))
    summary = in_tmp / "summary.md"
    result = cli("publish", "--all", "--format", "github", env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    assert "::error file=model_specs/m.yaml,line=3,col=10,title=mlmeta R008::" in result.stdout
    assert "```mermaid" not in summary.read_text() and "~ " not in result.stdout
