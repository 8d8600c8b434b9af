"""``mlmeta doctor --write-test`` without a server: a probe for every behaviour of the record, and the
compat workflow that runs the self-test against every supported minor."""

from __future__ import annotations

from mlmeta.catalog.releases import BY_KEY
from mlmeta.commands import doctor_write_test as selftest


def test_every_behaviour_of_the_record_has_a_probe():
    assert set(selftest.PROBES) == set(BY_KEY)


def test_the_compat_workflow_runs_the_self_test_against_every_supported_minor(repo_root):
    """Syntax: tests/unit/test_github_action.py checks every workflow against GitHub's schema, this one included."""
    import yaml

    from mlmeta.standins.openmetadata.schemas import WHEELS

    workflow = yaml.safe_load((repo_root / ".github" / "workflows" / "openmetadata-compat.yml").read_text())
    job = workflow["jobs"]["self-test"]
    # the server's own version of each minor's newest patch: the SDK wheel's first three numbers
    assert job["strategy"]["matrix"]["openmetadata"] == [".".join(WHEELS[m].split(".")[:3]) for m in sorted(WHEELS)]
    assert job["env"]["OPENMETADATA_VERSION"] == "${{ matrix.openmetadata }}"
    compose = yaml.safe_load((repo_root / "docker" / "docker-compose.yml").read_text())
    assert "${OPENMETADATA_VERSION" in compose["services"]["openmetadata-server"]["image"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("mlmeta doctor --write-test --format json" in run for run in runs)
    assert not [run for run in runs if "${{" in run]  # values reach scripts through env, never pasted in
    compatibility = (repo_root / "docs" / "compatibility.md").read_text()
    assert "openmetadata-compat.yml" in compatibility and "not run on the machines" in compatibility
