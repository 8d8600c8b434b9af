"""Many projects, one ML model service (a real MLflow server, the sandbox, real git repositories):
each project's name is recorded on the models it publishes, and prune, drift and plan --prune act
on that project's models only; a model nobody owns survives prune until a project adopts it; a
spec for another project's model is O001 and writes nothing. The rules of the name itself
(a git remote normalised, a folder's name, the project file's key) are checked offline below."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mlmeta.catalog import ownership
from mlmeta.config import load_settings
from mlmeta.catalog.provenance import BY_NAME
from tests.conftest import write
from tests.test_publish import SPEC

ONE, TWO = "github.com/acme/one", "github.com/acme/two"


# --- the project's name (offline) ---------------------------------------------------------------------


@pytest.mark.parametrize("remote, name", [
    ("https://github.com/acme/models.git", "github.com/acme/models"),
    ("https://x-access-token:s3cr3t@GitHub.COM/acme/models.git/", "github.com/acme/models"),
    ("git@github.com:acme/models.git", "github.com/acme/models"),
    ("ssh://git@github.com:22/acme/models", "github.com/acme/models"),
    ("gitlab.example.com:group/sub/models", "gitlab.example.com/group/sub/models"),
    ("/srv/git/models.git", None),
    ("file:///srv/git/models.git", None),
])
def test_a_git_remote_is_named_by_host_owner_and_name_without_credentials(remote, name):
    assert ownership.normalise_remote(remote) == name


def git_project(folder: Path, remote: str | None) -> Path:
    import git

    repo = git.Repo.init(folder)
    if remote:
        repo.create_remote("origin", remote)
    return folder


def test_the_name_comes_from_the_project_file_else_the_remote_else_the_folder(tmp_path):
    plain = tmp_path / "plain_folder"
    plain.mkdir()
    project = ownership.identify(load_settings(environ={}, cwd=plain), cwd=plain)
    assert project.name == "plain_folder" and "no git remote origin" in project.source
    cloned = git_project(tmp_path / "clone", "https://token:s3cr3t@github.com/acme/models.git")
    (cloned / "sub").mkdir()
    project = ownership.identify(load_settings(environ={}, cwd=cloned / "sub"), cwd=cloned / "sub")
    assert project.name == "github.com/acme/models" and "s3cr3t" not in project.source
    write(cloned / "mlmeta.toml", 'project = "ml-platform/models"\n')
    project = ownership.identify(load_settings(environ={}, cwd=cloned / "sub"))
    assert project.name == "ml-platform/models" and project.source.startswith("project in ")


def test_doctor_shows_the_name_and_where_it_came_from(cli, in_tmp):
    git_project(in_tmp, "git@github.com:acme/models.git")
    result = cli("doctor", "--format", "json", env={"OPENMETADATA_HOST": "http://127.0.0.1:9",
                                                    "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    shown = json.loads(result.stdout)["settings"]["project"]
    assert shown == {"value": "github.com/acme/models", "from": f"git remote origin of {in_tmp}"}
    assert "project = github.com/acme/models  (git remote origin of" in cli(
        "doctor", env={"OPENMETADATA_HOST": "http://127.0.0.1:9", "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}).stdout


def test_a_project_key_that_cannot_be_trusted_is_a_configuration_error(tmp_path):
    from mlmeta.errors import ConfigError

    write(tmp_path / "mlmeta.toml", 'project = "acme/mod\\u202eels"\n')
    with pytest.raises(ConfigError, match="U\\+202E"):
        load_settings(environ={}, cwd=tmp_path)
    write(tmp_path / "mlmeta.toml", 'project = " "\n')
    with pytest.raises(ConfigError, match="cannot be empty"):
        load_settings(environ={}, cwd=tmp_path)


def test_the_owner_property_is_one_of_mlmetas_properties():
    assert BY_NAME[ownership.PROPERTY].type == "string"


def test_models_left_alone_are_counted_in_one_line_each():
    left = ownership.LeftAlone(recording=True)
    assert left.sort("s.mine", {"extension": {ownership.PROPERTY: "GitHub.com/acme/one"}}, ONE)
    assert not left.sort("s.theirs", {"extension": {ownership.PROPERTY: TWO}}, ONE)
    assert not left.sort("s.old", {"sourceHash": "mlmeta:abc"}, ONE)
    assert left.lines() == ["1 model(s) of other projects left alone",
                            "1 model(s) published by mlmeta with no recorded owner left alone (published before "
                            "owners were recorded; mlmeta adopt FQN makes one this project's): s.old"]
    assert "run mlmeta setup" in ownership.LeftAlone(recording=False, unowned=["s.old"]).lines()[0]


# --- two projects, one service (slow: MLflow and the sandbox) ------------------------------------------


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


def run(cli, env, *args) -> tuple[int, dict]:
    result = cli(*args, "--format", "json", env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def stored(sandbox, name: str) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?include=all&fields=extension,"
                        "sourceHash", headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()


def writes(sandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.stats()["requests"].items()
            if k.startswith(("PUT ", "POST ", "PATCH ", "DELETE "))}


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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
