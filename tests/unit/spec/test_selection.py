"""Selectors (``--select``) on ``validate`` and ``graph``: which specs they keep, the warning for none, the
refusals (no server)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.files import write

SPECS = {
    "model_specs/eta/delivery_time.yaml": ("delivery_time", ["Tier.Tier1"], "{users: [alice]}"),
    "model_specs/eta/delivery_fee.yaml": ("delivery_fee", ["Tier.Tier2"], "{teams: [ml_platform]}"),
    "model_specs/fraud/fraud_score.yaml": ("fraud_score", ["Tier.Tier1", "PII.Sensitive"], "{teams: [risk]}"),
}


def spec_text(name: str, tags: list[str], owners: str) -> str:
    return (f"mlmeta: 1\nname: {name}\nservice: ml_models\ntags: [{', '.join(tags)}]\nowners: {owners}\n"
            "features:\n  - name: tenure\n    type: numerical\n    sources:\n"
            "      - column: svc.db.public.users.tenure\n")


@pytest.fixture
def project(in_tmp):
    for path, (name, tags, owners) in SPECS.items():
        write(in_tmp / path, spec_text(name, tags, owners))
    return in_tmp


def checked(cli, *selectors: str) -> tuple[int, list[str], str]:
    """validate with these selectors: exit code, the files checked, stderr."""
    result = cli("validate", "--format", "json", *[a for s in selectors for a in ("--select", s)])
    if result.exit_code == 2:
        return 2, [], result.stderr
    files = [f["path"] for f in json.loads(result.stdout)["files"]]
    return result.exit_code, sorted(files), result.stderr


@pytest.mark.parametrize("selectors, expected", [
    (["tag:Tier.Tier1"], ["model_specs/eta/delivery_time.yaml", "model_specs/fraud/fraud_score.yaml"]),
    (["tag:tier.tier2"], ["model_specs/eta/delivery_fee.yaml"]),  # tags compare without regard to case
    (["owner:alice"], ["model_specs/eta/delivery_time.yaml"]),
    (["owner:ml_platform"], ["model_specs/eta/delivery_fee.yaml"]),  # a team
    (["name:delivery_*"], ["model_specs/eta/delivery_fee.yaml", "model_specs/eta/delivery_time.yaml"]),
    (["path:model_specs/fraud/*"], ["model_specs/fraud/fraud_score.yaml"]),
    (["path:./model_specs/eta"], ["model_specs/eta/delivery_fee.yaml", "model_specs/eta/delivery_time.yaml"]),
    (["owner:risk", "name:delivery_fee"], ["model_specs/eta/delivery_fee.yaml", "model_specs/fraud/fraud_score.yaml"]),
])
def test_a_selector_keeps_the_specs_it_matches_and_several_are_a_union(cli, project, selectors, expected):
    code, files, stderr = checked(cli, *selectors)
    assert (code, files) == (0, expected), stderr
    assert "warning" not in stderr


def test_a_selector_matching_nothing_is_a_warning_line_with_a_did_you_mean(cli, project):
    code, files, stderr = checked(cli, "tag:Tier.Tear1", "owner:alcie")
    assert (code, files) == (0, [])
    assert stderr.splitlines() == [
        "mlmeta validate: warning: --select tag:Tier.Tear1 matches none of the 3 spec(s); did you mean tag:Tier.Tier1?",
        "mlmeta validate: warning: --select owner:alcie matches none of the 3 spec(s); did you mean owner:alice?"]


@pytest.mark.parametrize("selector, message", [
    ("Tier.Tier1", "--select 'Tier.Tier1': expected METHOD:VALUE"),
    ("tags:Tier.Tier1", "--select 'tags:Tier.Tier1': unknown method 'tags'; did you mean 'tag'?"),
    ("owner:", "--select 'owner:': nothing to match after 'owner:'"),
    (":x", "--select ':x': expected METHOD:VALUE"),
])
def test_a_malformed_selector_is_a_usage_error_before_anything_is_read(cli, project, selector, message):
    code, _, stderr = checked(cli, selector)
    assert code == 2 and message in stderr, stderr


def test_a_spec_that_cannot_be_loaded_is_named_not_silently_dropped(cli, project):
    write(project / "model_specs" / "eta" / "broken.yaml", "mlmeta: 1\nname: [unclosed\n")
    code, files, stderr = checked(cli, "name:delivery_time")
    assert (code, files) == (0, ["model_specs/eta/delivery_time.yaml"])
    assert "1 spec(s) could not be loaded" in stderr and "model_specs/eta/broken.yaml" in stderr
    code, files, _ = checked(cli, "path:model_specs/eta/broken.yaml")  # a path can still select it: its findings show
    assert (code, files) == (1, ["model_specs/eta/broken.yaml"])


def test_graph_draws_only_the_selected_models(cli, project):
    result = cli("graph", "--format", "json", "--select", "tag:PII.Sensitive")
    assert result.exit_code == 0, result.stderr
    assert [g["model"] for g in json.loads(result.stdout)["graphs"]] == ["ml_models.fraud_score"]


def test_prune_refuses_a_selection(cli, project):
    for command in (["publish", "--all"], ["plan"]):
        result = cli(*command, "--prune", "--select", "tag:Tier.Tier1")
        assert result.exit_code == 2 and "--prune decides from every spec" in result.stderr and "--select" in \
            result.stderr
