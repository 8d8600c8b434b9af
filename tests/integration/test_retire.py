"""Retirement end to end (a real MLflow server, the sandbox, real git): pruning the models whose
spec is gone - shown by plan, applied by publish, restored by a spec that comes back - and what
happens to a model that lost its Production version (keep, mark, delete). Only entities carrying
mlmeta's mark, and owned by the project (recorded once ``mlmeta setup`` defines the property: see
tests/integration/test_ownership.py), are ever touched."""

from __future__ import annotations

import json
import uuid

import requests

from tests.helpers.files import write
from tests.helpers.publishing import SPEC


def spec_for(in_tmp, registry, text_changes: str = "") -> tuple[str, object]:
    name = f"retired_{uuid.uuid4().hex[:8]}"
    path = write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name) + text_changes)
    registry.alias(name, registry.register(name))
    return name, path


def set_up(cli, env) -> None:
    """Define mlmeta's properties, the owner's among them: without it nothing is this project's to retire."""
    assert cli("setup", env=env).exit_code == 0


def run(cli, env, *args) -> tuple[int, dict]:
    result = cli(*args, "--format", "json", env=env)
    return result.exit_code, json.loads(result.stdout)


def stored(sandbox, name: str) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?include=all&fields=tags",
                        headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()


def test_prune_is_shown_by_plan_applied_by_publish_and_undone_by_the_spec_coming_back(cli, env, sandbox, registry,
                                                                                     in_tmp):
    set_up(cli, env)
    kept, _ = spec_for(in_tmp, registry)
    gone, gone_path = spec_for(in_tmp, registry)
    assert run(cli, env, "publish", "--all")[0] == 0
    text = gone_path.read_text()
    gone_path.unlink()
    code, plan = run(cli, env, "plan", "--prune")
    [pruned] = [m for m in plan["models"] if m["status"] == "deleted"]
    assert code == 0 and pruned["model"] == f"mlflow_models.{gone}" and not stored(sandbox, gone)["deleted"]
    code, out = run(cli, env, "publish", "--all", "--prune")
    assert code == 0 and out["summary"]["deleted"] == 1 and out["summary"]["unchanged"] == 1
    assert stored(sandbox, gone)["deleted"] is True and stored(sandbox, kept)["deleted"] is False
    gone_path.write_text(text)  # the spec comes back: the model is restored, not created anew
    code, out = run(cli, env, "publish", "--all", "--prune")
    assert code == 0 and stored(sandbox, gone)["deleted"] is False


def test_prune_never_touches_a_model_mlmeta_did_not_publish(cli, env, sandbox, registry, in_tmp):
    spec_for(in_tmp, registry)
    foreign = {"name": f"hand_made_{uuid.uuid4().hex[:6]}", "service": "mlflow_models", "sourceHash": "abc123"}
    requests.post(f"{sandbox.api_url}/v1/mlmodels", json=foreign, timeout=10,
                  headers={"Authorization": f"Bearer {sandbox.token('admin')}"}).raise_for_status()
    code, out = run(cli, env, "publish", "--all", "--prune")
    assert code == 0 and out["summary"]["deleted"] == 0
    assert stored(sandbox, foreign["name"])["deleted"] is False


def test_prune_refuses_to_guess_when_a_spec_is_invalid_or_paths_are_picked(cli, env, sandbox, registry, in_tmp):
    name, path = spec_for(in_tmp, registry)
    run(cli, env, "publish", "--all")
    write(in_tmp / "model_specs" / "broken.yaml", "mlmeta: 1\nname: broken\nfeatures: 3\n")
    code, out = run(cli, env, "publish", "--all", "--prune")
    assert code == 1 and any("not pruning: 1 spec(s) are invalid" in (m["message"] or "") for m in out["models"])
    result = cli("publish", "--prune", str(path), env=env)
    assert result.exit_code == 2 and "--prune decides from every spec" in result.stderr
    assert stored(sandbox, name)["deleted"] is False


def test_prune_with_changed_since_takes_the_specs_git_saw_deleted(cli, env, sandbox, registry, in_tmp):
    import git

    set_up(cli, env)
    first, first_path = spec_for(in_tmp, registry)
    second, _ = spec_for(in_tmp, registry)
    repo = git.Repo.init(in_tmp)
    repo.index.add([str(p.relative_to(in_tmp)) for p in (in_tmp / "model_specs").glob("*.yaml")])
    repo.index.commit("specs", author=git.Actor("t", "t@example.com"), committer=git.Actor("t", "t@example.com"))
    run(cli, env, "publish", "--all")
    repo.create_head("base")
    first_path.unlink()
    code, out = run(cli, env, "publish", "--changed-since", "base", "--prune")
    assert code == 0
    [deleted] = [m for m in out["models"] if m["status"] == "deleted"]
    assert (deleted["model"], deleted["spec"]) == (f"mlflow_models.{first}", f"model_specs/{first}.yaml")
    assert stored(sandbox, second)["deleted"] is False


def test_losing_production_can_mark_and_the_next_promotion_unmarks(cli, env, sandbox, registry, in_tmp):
    write(in_tmp / "mlmeta.toml", 'when_not_in_production = "mark"\nnot_in_production_tag = "Tier.Tier3"\n')
    set_up(cli, env)
    name, _ = spec_for(in_tmp, registry)
    run(cli, env, "publish", "--all")
    registry.client.delete_registered_model_alias(name, "champion")
    code, out = run(cli, env, "publish", "--all")
    [model] = out["models"]
    assert code == 0 and model["status"] == "updated" and model["message"].endswith(": marked")
    entity = stored(sandbox, name)
    assert entity["description"].startswith("> **Not in production** (mlmeta): no version of")
    assert "Tier.Tier3" in [t["tagFQN"] for t in entity["tags"]]
    assert run(cli, env, "publish", "--all")[1]["models"][0]["message"].endswith("already marked")
    registry.alias(name, "1")  # promoted again: the mark goes
    run(cli, env, "publish", "--all")
    entity = stored(sandbox, name)
    assert not entity["description"].startswith("> **Not in production**")
    assert "Tier.Tier3" not in [t["tagFQN"] for t in entity["tags"]]


def test_losing_production_can_soft_delete_per_spec(cli, env, sandbox, registry, in_tmp):
    set_up(cli, env)
    name, path = spec_for(in_tmp, registry)
    path.write_text(path.read_text().replace("  registered_model:", "  when_not_in_production: delete\n"
                                                                    "  registered_model:"))
    run(cli, env, "publish", "--all")
    registry.client.delete_registered_model_alias(name, "champion")
    code, plan = run(cli, env, "plan")
    assert plan["models"][0]["status"] == "deleted" and not stored(sandbox, name)["deleted"]
    code, out = run(cli, env, "publish", "--all")
    assert code == 0 and out["models"][0]["status"] == "deleted" and stored(sandbox, name)["deleted"] is True
