"""Saved plans end to end: ``plan -o`` in a pull request, ``publish --plan`` on merge - exactly the
plan, or nothing when the catalog, the registry or a spec changed since (a real MLflow server, the
sandbox, the CLI; nothing of mlmeta mocked)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, entity, upstream, writes


@pytest.fixture
def repo(in_tmp):
    """The project as a git repository on main, with a committer."""
    import git

    repository = git.Repo.init(in_tmp, initial_branch="main")
    with repository.config_writer() as config:
        config.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    write(in_tmp / "README.md", "models\n")
    repository.index.add(["README.md"])
    repository.index.commit("start")
    return repository


def commit_spec(repo, name: str, text: str, message: str):
    write(Path(repo.working_tree_dir) / "model_specs" / f"{name}.yaml", text)
    repo.index.add([f"model_specs/{name}.yaml"])
    return repo.index.commit(message)


def saved_plan(cli, env, path: str = "plan.json", *args: str):
    result = cli("plan", "-o", path, *args, env=env)
    return result, (json.loads(open(path, encoding="utf-8").read()) if result.exit_code == 0 else None)


def apply(cli, env, path: str = "plan.json", *args: str):
    result = cli("publish", "--plan", path, "--format", "json", *args, env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def admin_patch(sandbox, name: str, operations: list[dict]) -> dict:
    model = entity(sandbox, name)
    answer = requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", data=json.dumps(operations), timeout=10,
                            headers={"Authorization": f"Bearer {sandbox.token('admin')}",
                                     "Content-Type": "application/json-patch+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_plan_approved_in_a_pull_request_is_applied_exactly_on_merge(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    repo.create_head("add-model").checkout()
    pr_commit = commit_spec(repo, name, SPEC.format(name=name, registered=name), "add a model")
    result, plan = saved_plan(cli, env)  # in the pull request
    assert result.exit_code == 0, result.stdout + result.stderr
    assert writes(sandbox) == {}
    [entry] = plan["models"]
    assert (entry["model"], entry["status"], entry["catalog"]) == (f"mlflow_models.{name}", "created", None)
    assert entry["production"] == {"registered_model": name, "version": "1", "recognised_by": "alias",
                                   "marker": "champion"}
    assert plan["specs"] == [{"path": f"model_specs/{name}.yaml", "sha256": plan["specs"][0]["sha256"],
                              "commit": pr_commit.hexsha}]
    assert plan["openmetadata"]["address"] == sandbox.url.rstrip("/") + "/api"
    assert sandbox.token("mlmeta-bot") not in open("plan.json", encoding="utf-8").read()
    # merged with a squash: the spec's commit on main is another one, its text the same
    repo.heads.main.checkout()
    repo.git.merge("--squash", "add-model")
    repo.index.commit("add a model (#1)")
    sandbox.reset_stats()
    code, out = apply(cli, env)
    assert code == 0, out
    assert [(m["model"], m["status"]) for m in out["models"]] == [(f"mlflow_models.{name}", "created")]
    # exactly the plan: its create request, its edges - and no other write
    assert writes(sandbox) == {"POST /v1/mlmodels": 1, "PUT /v1/lineage": len(entry["lineage"]["draw"])}
    stored = entity(sandbox, name)
    assert stored["description"] == entry["create"]["description"]
    assert f"at commit `{pr_commit.hexsha[:12]}`" in stored["description"]  # what was approved
    assert stored["sourceHash"] == entry["create"]["sourceHash"]
    drawn = {d["asset"]["fullyQualifiedName"]: d["details"]["columnsLineage"] for d in entry["lineage"]["draw"]}
    assert {source: details["columnsLineage"] for source, details in upstream(sandbox, name).items()} == drawn
    # applied once, the plan is stale: the model it would create exists now
    code, out = apply(cli, env)
    assert code == 1 and "the model exists now" in out["models"][0]["message"]


def test_a_ui_edit_since_the_plan_refuses_it_and_nothing_is_written(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    commit_spec(repo, name, SPEC.format(name=name, registered=name), "add a model")
    assert cli("publish", "--all", env=env).exit_code == 0
    commit_spec(repo, name, SPEC.format(name=name, registered=name).replace("to arrive.", "to arrive at the door."),
                "better words")
    result, plan = saved_plan(cli, env)
    assert result.exit_code == 0, result.stdout + result.stderr
    [entry] = plan["models"]
    assert entry["status"] == "updated" and entry["patch"]["version"] == entry["catalog"]["version"] == 0.1
    assert entry["catalog"]["etag"]  # 2.0 sends ETags: the plan keeps the one it read
    admin_patch(sandbox, name, [{"op": "add", "path": "/displayName", "value": "Edited in the UI"}])
    sandbox.reset_stats()
    code, out = apply(cli, env)
    assert code == 1
    [refused] = out["models"]
    assert refused["status"] == "failed" and refused["message"].startswith("refused: the catalog changed since the "
                                                                           "plan: the model is at version 0.2 now, "
                                                                           "the plan was made against 0.1")
    assert [d["code"] for d in refused["diagnostics"]] == ["P003"]
    assert refused["changes"] == []  # a refused model shows no diff: nothing was written
    assert writes(sandbox) == {}
    assert entity(sandbox, name)["displayName"] == "Edited in the UI"
    assert out["warnings"] == ["the saved plan is stale, so nothing was written: make a new plan (mlmeta plan -o) "
                               "and apply that one"]


def test_an_edit_the_version_does_not_show_is_caught_by_the_etag(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    commit_spec(repo, name, SPEC.format(name=name, registered=name), "add a model")
    assert cli("publish", "--all", env=env).exit_code == 0
    commit_spec(repo, name, SPEC.format(name=name, registered=name).replace("to arrive.", "to arrive, at last."),
                "better words")
    result, plan = saved_plan(cli, env)
    assert result.exit_code == 0
    before = plan["models"][0]["catalog"]
    # another tool (OpenMetadata's own MLflow connector writes sourceHash) touches the model: from
    # 1.11.9 a sourceHash change bumps no version - only the ETag and the update time tell
    edited = admin_patch(sandbox, name, [{"op": "add", "path": "/sourceHash", "value": "connector-1234"}])
    assert edited["version"] == before["version"]
    sandbox.reset_stats()
    code, out = apply(cli, env)
    assert code == 1 and writes(sandbox) == {}
    assert out["models"][0]["message"] == ("refused: the catalog changed since the plan: the model's ETag differs "
                                           f"(version {before['version']} both: an edit the version does not show); "
                                           "make a new plan")


def test_another_promotion_in_mlflow_refuses_the_plan(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    commit_spec(repo, name, SPEC.format(name=name, registered=name), "add a model")
    result, plan = saved_plan(cli, env)
    assert result.exit_code == 0
    registry.alias(name, registry.register(name, run=1))  # v2 is the champion now
    code, out = apply(cli, env)
    assert code == 1
    assert out["models"][0]["message"] == ("refused: the registry changed since the plan: v2 (alias champion) is in "
                                           "Production now, the plan was made for v1 (alias champion); make a new "
                                           "plan")
    assert writes(sandbox) == {}
    assert requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}", timeout=10,
                        headers={"Authorization": f"Bearer {sandbox.token()}"}).status_code == 404


def test_one_stale_model_holds_back_the_whole_plan(cli, env, sandbox, registry, repo):
    names = [f"planned_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        registry.alias(name, registry.register(name))
        commit_spec(repo, name, SPEC.format(name=name, registered=name), f"add {name}")
    result, plan = saved_plan(cli, env)
    assert result.exit_code == 0 and [m["status"] for m in plan["models"]] == ["created", "created"]
    registry.alias(names[1], registry.register(names[1], run=1))
    code, out = apply(cli, env)
    assert code == 1
    statuses = {m["model"].split(".")[-1]: (m["status"], m["message"]) for m in out["models"]}
    assert statuses[names[0]] == ("skipped", "not applied: the plan is refused whole")
    assert statuses[names[1]][0] == "failed"
    assert writes(sandbox) == {}
    # a check alone (--dry-run) says the same and writes nothing either
    result = cli("publish", "--plan", "plan.json", "--dry-run", env=env)
    assert result.exit_code == 1
    assert f"mlflow_models.{names[1]} [failed] <- MLflow {names[1]} v2 (alias champion): refused: the registry " \
           "changed since the plan" in result.stdout
    assert writes(sandbox) == {}


def test_a_spec_changed_since_the_plan_refuses_it_before_any_server_is_asked(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    commit_spec(repo, name, SPEC.format(name=name, registered=name), "add a model")
    assert saved_plan(cli, env)[0].exit_code == 0
    commit_spec(repo, name, SPEC.format(name=name, registered=name).replace("PCA", "UMAP"), "another algorithm")
    sandbox.reset_stats()
    result = cli("publish", "--plan", "plan.json", env=env)
    assert result.exit_code == 1
    assert (f"mlflow_models.{name} [failed]: refused: model_specs/{name}.yaml changed since the plan was made (its "
            "digest differs)") in result.stdout
    assert sandbox.stats()["requests"] == {}


def test_a_plan_with_a_failed_model_is_not_saved(cli, env, sandbox, registry, repo):
    name = f"planned_{uuid.uuid4().hex[:8]}"
    registry.alias(name, registry.register(name))
    commit_spec(repo, name, SPEC.format(name=name, registered=name).replace("rating", "stars"), "a typo")
    result = cli("plan", "-o", "plan.json", env=env)
    assert result.exit_code == 1
    assert "no plan saved: 1 model(s) failed" in result.stderr
    assert not Path(repo.working_tree_dir, "plan.json").exists()
