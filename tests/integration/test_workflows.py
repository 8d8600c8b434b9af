"""The example workflows run here as GitHub would run them (``tests/helpers/actions_runner.py``), for the
payloads a repository sends on its first day - a branch's first push (``before`` is forty zeros),
an ordinary push, a force push (``before`` is on no branch, so not in the clone), a pull request
from a new branch, a promotion's dispatch, the morning's drift - in real git clones, with the real
``mlmeta`` against the session's MLflow and sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.actions_runner import Runner
from tests.helpers.files import REPO, write
from tests.helpers.projects import make_project

EXAMPLES = REPO / "examples" / "github"

NO_COMMIT = "0" * 40


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Ana", "-c", "user.email=ana@example.com", *args], cwd=folder,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


class Project:
    """The team's repository (``origin``, where commits are made) and the clone a job checks out."""

    def __init__(self, origin: Path, names: list[str], scratch: Path, connection: dict[str, str]) -> None:
        self.origin = origin
        self.names = names
        self.scratch = scratch
        self.connection = connection
        git(origin, "init", "-q", "-b", "main")
        self.commit("the first specs")

    def commit(self, message: str, change: str | None = None) -> str:
        """Commit (after appending a comment to the spec of the registered model ``change``); its sha."""
        if change is not None:
            spec = self.origin / "model_specs" / f"{change}.yaml"
            spec.write_text(spec.read_text() + f"# {message}\n")
        git(self.origin, "add", "model_specs")
        git(self.origin, "commit", "-q", "-m", message)
        return git(self.origin, "rev-parse", "HEAD")

    def run(self, workflow: str, job: str, event: str, payload: dict, branch: str = "main", patch=None):
        """Clone as actions/checkout with fetch-depth 0 does (only what a ref reaches), then run the job."""
        clone = self.scratch / f"clone-{len(list(self.scratch.glob('clone-*')))}"
        git(self.scratch, "clone", "-q", "--branch", branch, f"file://{self.origin}", str(clone))
        path = EXAMPLES / workflow
        if patch is not None:  # the workflow as a user changed it
            document = yaml.safe_load(path.read_text())
            patch(document)
            path = write(self.scratch / workflow, yaml.safe_dump(document, sort_keys=False))
        runner = Runner(clone, self.scratch / "bin", self.scratch, env=self.connection)
        return runner.run_job(path, job, event, payload,
                              vars={"OPENMETADATA_HOST": self.connection["OPENMETADATA_HOST"],
                                    "MLFLOW_TRACKING_URI": self.connection["MLFLOW_TRACKING_URI"]},
                              secrets={"OPENMETADATA_JWT_TOKEN": self.connection["OPENMETADATA_JWT_TOKEN"]})


@pytest.fixture
def project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, tmp_path_factory) -> Project:
    """Two specs, their registered models with version 1 in MLflow, nothing in Production yet."""
    import os

    names = make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "workflow", 2)
    scratch = tmp_path_factory.mktemp("runner")
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    mlmeta = bin_dir / "mlmeta"  # the mlmeta under test (the action's install step is not run)
    mlmeta.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mlmeta "$@"\n')
    mlmeta.chmod(0o755)
    connection = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
                  "MLFLOW_TRACKING_URI": mlflow_server.url, "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                  "PYTHONWARNINGS": "ignore", "MLMETA_TESTING": "1"}
    return Project(in_tmp, names, scratch, connection)


def push(before: str, after: str, **more) -> dict:
    return {"ref": "refs/heads/main", "before": before, "after": after, "created": before == NO_COMMIT,
            "forced": False, **more}


def test_a_branchs_first_push_publishes_every_spec(project):
    head = git(project.origin, "rev-parse", "HEAD")
    run = project.run("mlmeta-publish.yml", "publish", "push", push(NO_COMMIT, head))
    scope = run.step("Choose the specs this push changed")
    assert scope.outputs == {"all": "true"} and "publishing every spec" in scope.stdout
    published = run.step("Publish the specs this push changed")
    assert published.outcome == "success", published.stdout + published.stderr
    assert published.outputs["skipped"] == "2"  # both specs taken (nothing is in Production yet)


def test_a_push_publishes_the_specs_it_changed(project):
    before = git(project.origin, "rev-parse", "HEAD")
    after = project.commit("a better description", change=project.names[0])
    run = project.run("mlmeta-publish.yml", "publish", "push", push(before, after))
    assert run.step("Choose the specs this push changed").outputs == {"changed-since": before}
    published = run.step("Publish the specs this push changed")
    assert published.outcome == "success", published.stdout + published.stderr
    assert published.outputs["skipped"] == "1"  # only the changed one


def test_a_force_push_publishes_every_spec(project):
    dropped = project.commit("pushed, then rewritten", change=project.names[0])
    git(project.origin, "reset", "-q", "--hard", "HEAD~1")
    after = project.commit("the rewrite", change=project.names[1])
    run = project.run("mlmeta-publish.yml", "publish", "push", push(dropped, after, forced=True))
    assert run.step("Choose the specs this push changed").outputs == {"all": "true"}
    published = run.step("Publish the specs this push changed")
    assert published.outcome == "success", published.stdout + published.stderr
    assert published.outputs["skipped"] == "2"


def test_the_flag_the_example_names_fails_a_publish_with_nothing_in_production(project):
    text = (EXAMPLES / "mlmeta-publish.yml").read_text()
    assert "args: --require-production" in text

    def as_the_comment_says(document: dict) -> None:
        for step in document["jobs"]["publish"]["steps"]:
            if step.get("uses", "").startswith("your-org/mlmeta"):
                step["with"]["args"] = "--require-production"

    head = git(project.origin, "rev-parse", "HEAD")
    run = project.run("mlmeta-publish.yml", "publish", "push", push(NO_COMMIT, head), patch=as_the_comment_says)
    published = run.step("Publish the specs this push changed")
    assert published.outcome == "failure" and published.outputs["failed"] == "2"


def test_a_promotions_dispatch_publishes_that_models_specs(project):
    payload = {"action": "mlflow-promotion", "client_payload": {"registered_model": project.names[1]}}
    run = project.run("mlmeta-publish.yml", "publish", "repository_dispatch", payload)
    assert run.step("Choose the specs this push changed").outcome == "skipped"
    promoted = run.step("Publish the promoted model")
    assert promoted.outcome == "success" and promoted.outputs["skipped"] == "1", promoted.stdout
    assert run.step("Report").outcome == "success"


def test_a_pull_request_from_a_new_branch_validates_and_plans_its_changed_spec(project):
    git(project.origin, "checkout", "-q", "-b", "better-docs")
    head = project.commit("a better description", change=project.names[1])
    payload = {"pull_request": {"base": {"ref": "main"}, "head": {"ref": "better-docs", "sha": head}}}
    run = project.run("mlmeta-pull-request.yml", "specs", "pull_request", payload, branch="better-docs")
    assert run.step("Validate the changed specs").outcome == "success"
    plan = run.step("Plan what publishing would change")
    assert plan.outcome == "success" and plan.outputs["skipped"] == "1", plan.stdout + plan.stderr
    assert run.step("Post the plan on the pull request (one comment, updated on each push)").outcome == "not run here"


def test_the_mornings_drift_runs_against_the_catalog(project):
    run = project.run("mlmeta-drift.yml", "drift", "schedule", {"schedule": "17 6 * * 1-5"})
    compared = run.step("Compare the catalog with the specs and the registry")
    assert compared.outcome == "success", compared.stdout + compared.stderr
