"""Many projects, one ML model service (a real MLflow server, the sandbox, real git repositories):
each project's name is recorded on the models it publishes, and prune, drift and plan --prune act
on that project's models only; a model nobody owns survives prune until a project adopts it; a
spec for another project's model is O001 and writes nothing. The rules of the name itself
(a git remote normalised, a folder's name, the project file's key): tests/unit/catalog/test_ownership.py."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mlmeta.catalog import ownership
from tests.helpers.files import write
from tests.helpers.ownership import ONE, TWO, git_project, run, stored, writes
from tests.helpers.publishing import SPEC


@pytest.fixture
def projects(cli, env, registry, in_tmp, monkeypatch):
    """Two git repositories with different remotes, each publishing into mlflow_models."""
    assert cli("setup", env=env).exit_code == 0  # the owner is a custom property: defined once per catalog
    made = {ONE: git_project(in_tmp / "one", f"https://github.com/{ONE.split('/', 1)[1]}.git"),
            TWO: git_project(in_tmp / "two", f"git@github.com:{TWO.split('/', 1)[1]}.git")}

    @contextmanager
    def inside(project: str):
        with monkeypatch.context() as patch:
            patch.chdir(made[project])
            yield made[project]

    return inside


def add_spec(folder: Path, registry, name: str | None = None, description: str = "") -> str:
    """A spec for a new registered model in Production - or, given ``name``, a second spec for that one."""
    text = SPEC.format(name=name or "{name}", registered=name or "{name}")
    if description:
        text = text.replace("Estimates how long an order takes to arrive.", description)
    if name is None:
        name = f"owned_{uuid.uuid4().hex[:8]}"
        text = text.format(name=name)
        registry.alias(name, registry.register(name))
    write(folder / "model_specs" / f"{name}.yaml", text)
    return name


def test_two_projects_never_report_nor_touch_each_others_models(cli, env, sandbox, registry, projects):
    with projects(ONE) as one:
        kept, gone = add_spec(one, registry), add_spec(one, registry)
        assert run(cli, env, "publish", "--all")[0] == 0
    with projects(TWO) as two:
        theirs = add_spec(two, registry)
        assert run(cli, env, "publish", "--all")[0] == 0
    assert [stored(sandbox, m)["extension"][ownership.PROPERTY] for m in (kept, gone, theirs)] == [ONE, ONE, TWO]
    with projects(TWO):  # one's two models have no spec here: they are not two's orphans
        code, plan = run(cli, env, "plan", "--prune")
        assert code == 0 and [m["model"] for m in plan["models"]] == [f"mlflow_models.{theirs}"]
        assert plan["left_alone"]["others"] == 2 and "2 model(s) of other projects left alone" in plan["warnings"]
        code, drift = run(cli, env, "drift")
        assert code == 0 and drift["orphans"] == [] and drift["left_alone"]["others"] == 2
        sandbox.reset_stats()
        code, out = run(cli, env, "publish", "--all", "--prune")
        assert code == 0 and out["summary"]["deleted"] == 0 and writes(sandbox) == {}
    with projects(ONE) as one:  # one's own orphan is one's to prune; two's model is left alone
        (one / "model_specs" / f"{gone}.yaml").unlink()
        code, plan = run(cli, env, "plan", "--prune")
        assert [m["model"] for m in plan["models"] if m["status"] == "deleted"] == [f"mlflow_models.{gone}"]
        assert plan["left_alone"]["others"] == 1
        code, drift = run(cli, env, "drift")
        assert code == 1 and [o["model"] for o in drift["orphans"]] == [f"mlflow_models.{gone}"]
        code, out = run(cli, env, "publish", "--all", "--prune")
        assert code == 0 and out["summary"]["deleted"] == 1
    assert stored(sandbox, gone)["deleted"] is True
    assert stored(sandbox, theirs)["deleted"] is False and stored(sandbox, kept)["deleted"] is False


def test_a_model_with_no_recorded_owner_survives_prune_until_adopted(cli, env, sandbox, registry, in_tmp,
                                                                      monkeypatch):
    git_project(in_tmp, "https://github.com/acme/one.git")
    add_spec(in_tmp, registry)
    old = add_spec(in_tmp, registry)
    assert run(cli, env, "publish", "--all")[0] == 0  # before owners were recorded: no property yet
    assert cli("setup", env=env).exit_code == 0
    assert ownership.PROPERTY not in (stored(sandbox, old).get("extension") or {})
    (in_tmp / "model_specs" / f"{old}.yaml").unlink()
    code, out = run(cli, env, "publish", "--all", "--prune")
    assert code == 0 and out["summary"]["deleted"] == 0 and stored(sandbox, old)["deleted"] is False
    assert out["left_alone"]["unowned"] == [f"mlflow_models.{old}"]
    assert any("no recorded owner" in w and "mlmeta adopt" in w for w in out["warnings"])
    code, drift = run(cli, env, "drift")
    assert drift["orphans"] == [] and drift["left_alone"]["unowned"] == [f"mlflow_models.{old}"]
    code, adopted = run(cli, env, "adopt", f"mlflow_models.{old}")
    assert code == 0 and adopted["models"][0]["status"] == "adopted" and adopted["project"] == ONE
    assert stored(sandbox, old)["extension"][ownership.PROPERTY] == ONE
    code, plan = run(cli, env, "plan", "--prune")
    assert [m["model"] for m in plan["models"] if m["status"] == "deleted"] == [f"mlflow_models.{old}"]
    assert run(cli, env, "publish", "--all", "--prune")[1]["summary"]["deleted"] == 1
    assert stored(sandbox, old)["deleted"] is True


def test_a_model_claimed_by_two_projects_is_a_finding_and_nothing_is_overwritten(cli, env, sandbox, registry,
                                                                                 projects):
    with projects(ONE) as one:
        shared = add_spec(one, registry)
        assert run(cli, env, "publish", "--all")[0] == 0
    before = stored(sandbox, shared)
    with projects(TWO) as two:
        add_spec(two, registry, shared, description="Two's own words for the same model.")
        sandbox.reset_stats()
        for command in (("plan",), ("publish", "--all")):
            code, out = run(cli, env, *command)
            [result] = out["models"]
            assert code == 1 and result["status"] == "failed"
            [claim] = [d for d in result["diagnostics"] if d["code"] == "O001"]
            assert claim["line"] == 2 and f"belongs to project {ONE!r}" in claim["message"]
            assert f"mlmeta adopt --from {ONE}" in claim["message"]
        assert writes(sandbox) == {}
        code, drift = run(cli, env, "drift")
        assert code == 1 and [d["code"] for d in drift["diagnostics"]] == ["O001"]
        code, adopted = run(cli, env, "adopt", f"mlflow_models.{shared}")  # not without naming the owner
        assert code == 1 and adopted["models"][0]["status"] == "refused"
    after = stored(sandbox, shared)
    assert (after["version"], after["description"], after["extension"]) == (
        before["version"], before["description"], before["extension"])
    with projects(ONE):  # the owner's next publish finds its model as it left it
        code, out = run(cli, env, "publish", "--all")
        assert code == 0 and out["models"][0]["status"] == "unchanged"


def test_a_handover_names_the_owner_and_the_new_owner_publishes_it(cli, env, sandbox, registry, projects):
    with projects(ONE) as one:
        shared = add_spec(one, registry)
        assert run(cli, env, "publish", "--all")[0] == 0
    with projects(TWO) as two:
        add_spec(two, registry, shared, description="Two's own words for the same model.")
        code, adopted = run(cli, env, "adopt", "--from", ONE, f"mlflow_models.{shared}")
        assert code == 0 and adopted["models"][0]["owner_before"] == ONE
        code, out = run(cli, env, "publish", "--all")
        assert code == 0 and out["models"][0]["status"] == "updated"
    assert "Two's own words" in stored(sandbox, shared)["description"]
    with projects(ONE):  # and now one's spec is the one claiming another project's model
        code, out = run(cli, env, "publish", "--all")
        assert code == 1 and out["models"][0]["diagnostics"][0]["code"] == "O001"


def test_a_model_published_before_owners_gets_its_owner_in_one_write_then_none(cli, env, sandbox, registry, in_tmp):
    git_project(in_tmp, "https://github.com/acme/one.git")
    name = add_spec(in_tmp, registry)
    assert cli("setup", env=env).exit_code == 0
    assert run(cli, env, "publish", "--all")[0] == 0
    model = stored(sandbox, name)
    # as a catalog set up before this release holds it: every property but the owner
    extension = {k: v for k, v in model["extension"].items() if k != ownership.PROPERTY}
    requests.patch(f"{sandbox.api_url}/v1/mlmodels/{model['id']}", timeout=10,
                   json=[{"op": "replace", "path": "/extension", "value": extension}],
                   headers={"Authorization": f"Bearer {sandbox.token()}",
                            "Content-Type": "application/json-patch+json"}).raise_for_status()
    code, drift = run(cli, env, "drift")
    assert code == 0 and [d["code"] for d in drift["diagnostics"]] == ["O003"]
    code, plan = run(cli, env, "plan")
    assert [c["summary"] for c in plan["models"][0]["changes"]] == [
        f"custom property {ownership.PROPERTY}: (none) -> '{ONE}'"]
    sandbox.reset_stats()
    code, out = run(cli, env, "publish", "--all")
    assert code == 0 and out["models"][0]["status"] == "updated" and writes(sandbox) == {
        "PATCH /v1/mlmodels/{key}": 1}
    sandbox.reset_stats()
    code, out = run(cli, env, "publish", "--all")
    assert code == 0 and out["models"][0]["status"] == "unchanged" and writes(sandbox) == {}
