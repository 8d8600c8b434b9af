"""The composite action and the workflows: linted offline, and the action's command line tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.files import REPO

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


# --- the release: the action installs the release of its tag; the notes come from the changelog ------


INSTALL_SH = REPO / ".github" / "action" / "install.sh"


def run_install(tmp_path: Path, **env: str) -> list[str]:
    """install.sh with a stand-in ``python`` whose venv's pip only says what it was asked to install."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python"
    fake.write_text("#!/usr/bin/env bash\n"  # python -m venv DIR: a venv whose python records pip's arguments
                    'mkdir -p "$3/bin"\n'
                    'printf \'#!/usr/bin/env bash\\necho "$@" >> %s\\n\' > "$3/bin/python"\n'
                    'printf \'#!/usr/bin/env bash\\necho "mlmeta 0.1.0"\\n\' > "$3/bin/mlmeta"\n'
                    'chmod +x "$3/bin/python" "$3/bin/mlmeta"\n' % (tmp_path / "pip.log"))
    fake.chmod(0o755)
    done = subprocess.run(["bash", str(INSTALL_SH)], capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path),
                               "ACTION_PATH": "/action", **env})
    assert done.returncode == 0, done.stderr
    return (tmp_path / "pip.log").read_text().split()


@pytest.mark.parametrize(("ref", "requirement", "installed"), [
    ("v0.1.0", "", "mlmeta==0.1.0"),  # a release tag: that release from PyPI
    ("v1.2.3rc1", "", "mlmeta==1.2.3rc1"),
    ("main", "", "/action"),  # a branch or a commit: the action's own checkout
    ("3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e", "", "/action"),
    ("v0.1.0", "mlmeta==0.0.9", "mlmeta==0.0.9"),  # the version input wins
])
def test_the_action_installs_the_release_of_its_tag_else_its_checkout(tmp_path, ref, requirement, installed):
    arguments = run_install(tmp_path, MLMETA_ACTION_REF=ref, MLMETA_REQUIREMENT=requirement)
    assert arguments[-1] == installed and "/action/constraints.txt" in arguments


def test_the_release_notes_are_the_changelogs_section(tmp_path):
    notes = subprocess.run([sys.executable, str(REPO / ".github" / "release_notes.py"), "v0.1.0"], capture_output=True,
                           text=True, timeout=60)
    assert notes.returncode == 0 and notes.stdout.startswith("The first release.") and "### Added" in notes.stdout
    assert "[0.1.0]:" not in notes.stdout and "## [" not in notes.stdout
    missing = subprocess.run([sys.executable, str(REPO / ".github" / "release_notes.py"), "9.9.9"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no section for 9.9.9" in missing.stderr


def test_the_release_workflow_checks_tests_publishes_then_releases():
    release = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    assert release[True]["push"]["tags"] == ["v*.*.*"]  # YAML reads the key "on" as True
    assert release["jobs"]["pypi"]["needs"] == "build" and release["jobs"]["github-release"]["needs"] == "pypi"
    assert release["jobs"]["pypi"]["permissions"] == {"id-token": "write"}
    build = " ".join(step.get("run", "") for step in release["jobs"]["build"]["steps"])
    assert "twine check --strict" in build and "/tmp/installed/bin/mlmeta --version" in build
    from mlmeta import __version__
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()  # the version being released has notes


def test_shell_completion_is_a_command_and_costs_nothing_otherwise(tmp_path):
    script = subprocess.run([sys.executable, "-m", "mlmeta", "completion", "bash"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert script.returncode == 0 and "_MLMETA_COMPLETE=complete_bash" in script.stdout
    completed = subprocess.run([sys.executable, "-m", "mlmeta"], capture_output=True, text=True, timeout=60,
                               cwd=tmp_path, env={**os.environ, "_MLMETA_COMPLETE": "complete_bash",
                                                  "COMP_WORDS": "mlmeta doc", "COMP_CWORD": "1"})
    assert completed.stdout.split() == ["doctor"]
    # without the shell asking, --version registers no completion machinery: one environment look-up
    check = ("import sys, click.shell_completion as c; from mlmeta.cli import main; sys.argv = ['mlmeta', '--version']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\nprint(c._available_shells['bash'].__module__)")
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "_MLMETA_COMPLETE"})
    assert loaded.stdout.split()[-1] == "click.shell_completion", loaded.stdout + loaded.stderr
