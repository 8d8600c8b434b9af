"""Spec discovery, and --changed-since against real git repositories."""

from __future__ import annotations

import git
import pytest

from mlmeta.errors import UsageError
from mlmeta.spec.discovery import changed_since, deleted_since, find_spec_files
from tests.helpers.files import GOOD_SPEC, write

NO_COMMIT = "0" * 40


def test_folders_are_searched_for_yaml_files_skipping_hidden_ones(tmp_path):
    write(tmp_path / "specs" / "b.yml", GOOD_SPEC)
    write(tmp_path / "specs" / "sub" / "a.yaml", GOOD_SPEC)
    write(tmp_path / "specs" / "notes.md", "x")
    write(tmp_path / "specs" / ".hidden" / "c.yaml", GOOD_SPEC)
    found = find_spec_files([tmp_path / "specs"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["specs/b.yml", "specs/sub/a.yaml"]


@pytest.fixture
def repo(in_tmp):
    repo = git.Repo.init(in_tmp, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    for name in ("a", "b", "c"):
        write(in_tmp / "model_specs" / f"{name}.yaml", GOOD_SPEC.replace("churn", name))
    write(in_tmp / "README.md", "x")
    repo.index.add(["model_specs/a.yaml", "model_specs/b.yaml", "model_specs/c.yaml", "README.md"])
    repo.index.commit("initial specs")
    repo.create_head("feature").checkout()
    return repo


def _names(paths):
    return sorted(p.name for p in paths)


def test_changed_since_covers_commits_staged_unstaged_and_untracked_files(repo, in_tmp):
    specs = in_tmp / "model_specs"
    write(specs / "a.yaml", GOOD_SPEC.replace("churn", "a2"))
    repo.index.add(["model_specs/a.yaml"])
    repo.index.commit("change a")
    write(specs / "b.yaml", GOOD_SPEC.replace("churn", "b2"))  # unstaged
    write(specs / "new.yaml", GOOD_SPEC.replace("churn", "new"))  # untracked
    (specs / "c.yaml").unlink()  # deleted: nothing to validate
    write(in_tmp / "README.md", "changed, but not a spec")
    assert _names(changed_since("main", [specs])) == ["a.yaml", "b.yaml", "new.yaml"]


def test_changes_on_the_base_branch_after_forking_do_not_count(repo, in_tmp):
    repo.heads.main.checkout()
    write(in_tmp / "model_specs" / "b.yaml", GOOD_SPEC.replace("churn", "b-main"))
    repo.index.add(["model_specs/b.yaml"])
    repo.index.commit("main moves on")
    repo.heads.feature.checkout()
    assert changed_since("main", [in_tmp / "model_specs"]) == []


def test_an_unknown_branch_is_a_usage_error_saying_what_to_fetch(repo, in_tmp):
    with pytest.raises(UsageError, match="unknown git ref 'origin/main'") as error:
        changed_since("origin/main", [in_tmp / "model_specs"])
    assert "git fetch origin main" in error.value.hint and "fetch-depth" not in error.value.hint


def test_an_unknown_commit_in_a_whole_clone_is_a_force_push_not_a_shallow_checkout(repo, in_tmp):
    """Seen: a hint to set fetch-depth: 0 in a workflow that set it already."""
    with pytest.raises(UsageError, match="unknown git ref") as error:
        changed_since("5d41402abc4b2a76b9719d911017c592abcdef01", [in_tmp / "model_specs"])
    assert "force push" in error.value.hint and "--all" in error.value.hint
    assert "fetch-depth" not in error.value.hint


def test_an_unknown_ref_in_a_shallow_clone_says_to_fetch_the_history(repo, in_tmp, tmp_path_factory, monkeypatch):
    shallow = tmp_path_factory.mktemp("shallow") / "clone"
    git.Repo.clone_from(f"file://{in_tmp}", shallow, depth=1, branch="main")
    monkeypatch.chdir(shallow)
    with pytest.raises(UsageError, match="unknown git ref") as error:
        changed_since("5d41402abc4b2a76b9719d911017c592abcdef01", [shallow / "model_specs"])
    assert "fetch-depth: 0" in error.value.hint


def test_no_commit_before_a_first_push_takes_every_spec(repo, in_tmp):
    """GitHub's ``github.event.before`` on a branch's first push: seen exiting 2, ``unknown git ref``."""
    assert _names(changed_since(NO_COMMIT, [in_tmp / "model_specs"])) == ["a.yaml", "b.yaml", "c.yaml"]
    assert deleted_since(NO_COMMIT, [in_tmp / "model_specs"]) == []  # nothing was there to delete


def test_validate_changed_since_the_null_commit_says_it_takes_every_spec(cli, repo, in_tmp):
    result = cli("validate", "--changed-since", NO_COMMIT)
    assert result.exit_code == 0 and "3 specs checked: all valid" in result.stdout
    assert "no commit before it" in result.stderr and "every spec is taken" in result.stderr


def test_outside_a_repository_is_a_usage_error(in_tmp):
    write(in_tmp / "model_specs" / "a.yaml", GOOD_SPEC)
    with pytest.raises(UsageError, match="needs a git repository"):
        changed_since("main", [in_tmp / "model_specs"])


def test_validate_changed_since_checks_only_changed_specs(cli, repo, in_tmp):
    write(in_tmp / "model_specs" / "b.yaml", GOOD_SPEC.replace("numerical", "numeric"))
    repo.index.add(["model_specs/b.yaml"])
    repo.index.commit("break b")
    result = cli("validate", "--changed-since", "main")
    assert result.exit_code == 1
    assert "1 spec checked, 1 invalid" in result.stdout
