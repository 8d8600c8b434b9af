"""A spec from anyone's pull request names files: none outside the repository is ever read.

The attack (issue 30): ``description_file: /proc/self/environ`` validated, and ``card``, ``plan``
and ``publish`` then showed (or wrote into the catalog) every secret in the CI's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.files import GOOD_SPEC, write

SECRET = "s3cr3t-from-the-ci-environment"


def _mlmeta(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_"))}
    env.update(AWS_SECRET_ACCESS_KEY=SECRET, MLMETA_WEBHOOK_SECRET=SECRET)
    return subprocess.run([sys.executable, "-m", "mlmeta", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a spec folder, and a file outside it holding a secret."""
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    write(tmp_path / "outside" / "secret.md", SECRET)
    return tmp_path / "repo"


@pytest.mark.parametrize("named", ["/proc/self/environ", "../../outside/secret.md", "/etc/passwd",
                                   "../../../../../../../../etc/hostname"])
def test_a_description_file_outside_the_repository_is_a_finding_at_its_line_and_is_never_read(repo, named):
    write(repo / "model_specs" / "churn.yaml", GOOD_SPEC + f"description_file: {named}\n")
    for command in (["validate", "model_specs"], ["card", "model_specs/churn.yaml"],
                    ["validate", "model_specs", "--format", "json"]):
        result = _mlmeta(*command, cwd=repo)
        assert result.returncode in (1, 2), (command, result.stderr)
        assert SECRET not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    result = _mlmeta("validate", "model_specs", cwd=repo)
    assert f"model_specs/churn.yaml:9:19: error F005 description_file: {named!r} leads outside the repository" \
        in result.stdout


def test_a_description_file_reached_through_a_symlink_leaving_the_repository_is_refused(repo):
    (repo / "docs").mkdir()
    (repo / "docs" / "churn.md").symlink_to(repo.parent / "outside" / "secret.md")
    write(repo / "model_specs" / "churn.yaml", GOOD_SPEC + "description_file: ../docs/churn.md\n")
    result = _mlmeta("card", "model_specs/churn.yaml", cwd=repo)
    assert result.returncode == 1 and SECRET not in result.stdout + result.stderr
    assert "F005" in result.stdout + result.stderr


def test_a_description_file_that_is_a_fifo_or_a_folder_is_refused_without_blocking(repo):
    os.mkfifo(repo / "pipe.md")
    (repo / "folder.md").mkdir()
    write(repo / "model_specs" / "a.yaml", GOOD_SPEC + "description_file: ../pipe.md\n")
    write(repo / "model_specs" / "b.yaml", GOOD_SPEC.replace("churn", "churn_b") + "description_file: ../folder.md\n")
    result = _mlmeta("validate", "model_specs", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.count("is not a regular file") == 2


def test_a_description_file_inside_the_repository_is_read_wherever_it_is(repo):
    write(repo / "docs" / "churn.md", "Predicts who leaves.\n")
    (repo / "model_specs").mkdir()
    (repo / "model_specs" / "link.md").symlink_to(repo / "docs" / "churn.md")  # inside: fine
    write(repo / "model_specs" / "churn.yaml", GOOD_SPEC + "description_file: link.md\n")
    result = _mlmeta("card", "model_specs/churn.yaml", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "Predicts who leaves." in result.stdout


def test_a_huge_description_file_is_refused_not_read_whole(repo):
    write(repo / "model_specs" / "churn.yaml", GOOD_SPEC + "description_file: big.md\n")
    with open(repo / "model_specs" / "big.md", "wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of zeros
    result = _mlmeta("validate", "model_specs", cwd=repo)
    assert result.returncode == 1 and "larger than 1024 KiB" in result.stdout


def test_discovery_names_symlink_loops_and_symlinks_leaving_the_repository(repo):
    specs = repo / "model_specs"
    write(specs / "churn.yaml", GOOD_SPEC)
    (specs / "passwd.yaml").symlink_to("/etc/passwd")
    (specs / "loop.yaml").symlink_to(specs / "loop.yaml")
    (specs / "up").symlink_to(repo)
    (specs / "elsewhere").symlink_to(repo.parent / "outside")
    write(repo / "shared" / "other.yaml", GOOD_SPEC.replace("churn", "other"))
    (specs / "shared").symlink_to(repo / "shared")  # a folder inside the repository: searched
    result = _mlmeta("validate", "model_specs", cwd=repo)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(ln.startswith("model_specs/passwd.yaml:1:1: error F005 a symlink to /etc/passwd") for ln in lines)
    assert any(ln.startswith("model_specs/loop.yaml:1:1: error F005") and "symlink loop" in ln for ln in lines)
    assert any(ln.startswith("model_specs/up:1:1: error F005 a symlink loop") for ln in lines)
    assert any(ln.startswith("model_specs/elsewhere:1:1: error F005 a symlink to") for ln in lines)
    assert "root:" not in result.stdout  # /etc/passwd was not read
    assert "model_specs/shared/other.yaml" not in result.stdout  # valid, found through the inside symlink
    assert "6 specs checked, 4 invalid" in result.stdout
