"""A project's name, offline: a git remote normalised, a folder's name, the project file's key; the owner
property, and the line for models left alone."""

from __future__ import annotations

import json

import pytest

from mlmeta.catalog import ownership
from mlmeta.catalog.provenance import BY_NAME
from mlmeta.config import load_settings
from tests.helpers.files import write
from tests.helpers.ownership import ONE, TWO, git_project


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
