"""The composite action and the workflows: linted offline, and the action's command line tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted([*(REPO / ".github" / "workflows").glob("*.yml"), *(REPO / "examples" / "github").glob("*.yml")])
RUN_SH = REPO / ".github" / "action" / "run.sh"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True)


def test_there_are_workflows_for_ci_pull_requests_and_publishing():
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "specs.yml", "mlmeta-pull-request.yml", "mlmeta-publish.yml", "mlmeta-drift.yml"} <= names


def test_workflows_are_valid():
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_action_is_valid():
    result = check_jsonschema("vendor.github-actions", REPO / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_project_ci_runs_the_readme_test_command():
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    commands = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    assert any("bash .ci/run" in c for c in commands)
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert "make test" in (REPO / "README.md").read_text()


def test_inputs_reach_shell_steps_only_through_env_and_the_token_is_masked_first():
    action = yaml.safe_load((REPO / "action.yml").read_text())
    steps = action["runs"]["steps"]
    for step in steps:
        assert "${{" not in step.get("run", ""), f"expression pasted into run: {step.get('name')}"
        if "run" in step:
            assert step["shell"] == "bash"
    token_users = [i for i, s in enumerate(steps) if "openmetadata-token" in str(s.get("env", {}))]
    assert token_users[0] == 0 and "::add-mask::" in steps[0]["run"]
    for name in ("created", "updated", "unchanged", "skipped", "failed"):
        assert action["outputs"][name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_the_published_workflows_use_the_action_with_secrets_not_literals():
    for path in (REPO / "examples" / "github").glob("*.yml"):
        text = path.read_text()
        assert "eyJ" not in text  # no token committed
        assert "secrets.OPENMETADATA_JWT_TOKEN" in text


# --- the command line run.sh builds -------------------------------------------------------------------


@pytest.fixture
def fake_mlmeta(tmp_path):
    """An ``mlmeta`` on PATH that prints the arguments it got, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mlmeta"
    fake.write_text('#!/usr/bin/env bash\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    return bin_dir


def run_action(fake_mlmeta, tmp_path, **inputs) -> subprocess.CompletedProcess:
    env = {"PATH": f"{fake_mlmeta}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    env.update({f"MLMETA_{k.upper()}": v for k, v in inputs.items()})
    return subprocess.run(["bash", str(RUN_SH)], env=env, cwd=tmp_path, capture_output=True, text=True)


def test_defaults_validate_with_github_annotations(fake_mlmeta, tmp_path):
    result = run_action(fake_mlmeta, tmp_path)
    assert result.stdout.splitlines() == ["validate", "--format", "github"]


def test_plan_with_changed_since_and_paths_on_several_lines(fake_mlmeta, tmp_path):
    result = run_action(fake_mlmeta, tmp_path, command="plan", changed_since="origin/main",
                        paths="model_specs/a.yaml\nmodel_specs/b.yaml other")
    assert result.stdout.splitlines() == ["plan", "--format", "github", "--changed-since", "origin/main",
                                          "model_specs/a.yaml", "model_specs/b.yaml", "other"]


def test_publish_all_for_a_registered_model_with_extra_arguments(fake_mlmeta, tmp_path):
    result = run_action(fake_mlmeta, tmp_path, command="publish", all="true", registered_model="delivery_time",
                        args="--strict --create-service")
    assert result.stdout.splitlines() == ["publish", "--format", "github", "--all", "--registered-model",
                                          "delivery_time", "--strict", "--create-service"]


def test_inputs_cannot_inject_shell(fake_mlmeta, tmp_path):
    result = run_action(fake_mlmeta, tmp_path, paths="$(touch pwned) `touch pwned2`; touch pwned3",
                        args="--strict;rm -rf /", changed_since="main; touch pwned4")
    assert not list(tmp_path.glob("pwned*"))
    assert "$(touch" in result.stdout.splitlines() and "--strict;rm" in result.stdout.splitlines()
    assert "main; touch pwned4" in result.stdout.splitlines()


def test_an_unknown_command_is_refused(fake_mlmeta, tmp_path):
    result = run_action(fake_mlmeta, tmp_path, command="deploy")
    assert result.returncode == 2 and "::error title=mlmeta::unknown command 'deploy'" in result.stdout
