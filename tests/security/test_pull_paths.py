"""``pull`` writes what catalog editors typed into the repository: only into the spec and the
description file it names, inside the repository, never through a symlink."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.files import write
from tests.helpers.pulling import SPEC, edit_in_ui, publish_spec

WITH_FILE = SPEC.replace("description: Estimates how long an order takes to arrive.\n",
                         "description_file: ../docs/model.md\n")


@pytest.fixture
def project(in_tmp):
    subprocess.run(["git", "init", "-q", str(in_tmp)], check=True)
    write(in_tmp / "docs" / "model.md", "Estimates how long an order takes to arrive.\n")
    return in_tmp


def _edit_description(sandbox, name: str) -> None:
    edit_in_ui(sandbox, name, [{"op": "replace", "path": "/description", "value": "ATTACKER TEXT"}])


def test_a_description_file_swapped_for_a_symlink_leaving_the_repository_is_not_written(
        cli, sandbox, mlflow_server, registry, project, tmp_path_factory):
    name, _, env = publish_spec(cli, sandbox, mlflow_server, registry, project, WITH_FILE)
    victim = write(tmp_path_factory.mktemp("outside") / "victim.md", "precious\n")
    (project / "docs" / "model.md").unlink()
    (project / "docs" / "model.md").symlink_to(victim)
    _edit_description(sandbox, name)
    result = cli("pull", env=env)
    assert result.exit_code == 1
    assert "F005" in result.stdout and victim.read_text() == "precious\n"


def test_a_symlinked_spec_inside_the_repository_is_edited_where_it_really_is(
        cli, sandbox, mlflow_server, registry, project):
    name, path, env = publish_spec(cli, sandbox, mlflow_server, registry, project, SPEC)
    real = project / "specs-store" / path.name
    real.parent.mkdir()
    path.rename(real)
    path.symlink_to(real)
    edit_in_ui(sandbox, name, [{"op": "replace", "path": "/mlFeatures/0/description", "value": "Edited in the UI."}])
    result = cli("pull", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert path.is_symlink() and "Edited in the UI." in real.read_text()
