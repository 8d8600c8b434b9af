"""The model-card policy: sections a tier requires, checked offline at the spec's line."""

from __future__ import annotations

import json

from tests.helpers.files import write

PROJECT = """\
[tool.mlmeta]
service = "ml"
[tool.mlmeta.policy]
"Tier.Tier1" = ["intended_use", "limitations", "ethical_considerations", "evaluation"]
"Tier.Tier3" = ["intended_use"]
"""
SPEC = """\
mlmeta: 1
name: churn
tags: [Tier.Tier1]
model_card:
  intended_use: Retention offers.
  ethical_considerations: Age is not a feature.
  evaluation: AUC on last quarter's customers.
{more}features:
  - name: tenure
    type: numerical
"""


def test_a_tier1_spec_without_limitations_fails_at_its_line_naming_the_tier(cli, in_tmp):
    write(in_tmp / "pyproject.toml", PROJECT)
    write(in_tmp / "model_specs" / "churn.yaml", SPEC.format(more=""))
    result = cli("validate", "--format", "json")
    out = json.loads(result.stdout)
    assert result.exit_code == 1
    [finding] = out["diagnostics"]
    assert (finding["code"], finding["line"], finding["column"]) == ("S010", 4, 1)
    assert finding["message"].startswith("model_card: Tier.Tier1 models must document model_card.limitations")
    assert "pyproject.toml" in finding["message"]
    assert out["warnings"] == ["[policy] names Tier.Tier3, which none of the 1 spec(s) checked is tagged with"]

    write(in_tmp / "model_specs" / "churn.yaml", SPEC.format(more="  limitations: Urban customers only.\n"))
    fixed = cli("validate")
    assert fixed.exit_code == 0 and "warning: [policy] names Tier.Tier3" in fixed.stdout


def test_without_a_model_card_the_finding_is_at_the_tag(cli, in_tmp):
    write(in_tmp / "pyproject.toml", PROJECT)
    spec = write(in_tmp / "s.yaml", "mlmeta: 1\nname: x\ntags:\n  - Tier.Tier2\n  - Tier.Tier1\nfeatures: []\n")
    out = json.loads(cli("validate", "--format", "json", str(spec)).stdout)
    assert {(d["code"], d["line"]) for d in out["diagnostics"]} == {("S010", 5)}
    assert len(out["diagnostics"]) == 4  # one per missing section


def test_publish_refuses_a_spec_the_policy_rejects_before_any_server_is_asked(cli, in_tmp):
    write(in_tmp / "pyproject.toml", PROJECT)
    write(in_tmp / "model_specs" / "churn.yaml", SPEC.format(more=""))
    result = cli("plan", "--all", env={"OPENMETADATA_HOST": "http://127.0.0.1:9", "OPENMETADATA_JWT_TOKEN": "x"})
    assert result.exit_code == 1 and "S010" in result.stdout


def test_an_unknown_section_in_the_policy_is_a_configuration_error(cli, in_tmp):
    write(in_tmp / "pyproject.toml", '[tool.mlmeta.policy]\n"Tier.Tier1" = ["limitation"]\n')
    result = cli("validate")
    assert result.exit_code == 2
    assert "[tool.mlmeta] policy.\"Tier.Tier1\" in" in result.stderr
    assert "unknown model-card section 'limitation'; did you mean 'limitations'?" in result.stderr


def test_a_policy_key_must_be_a_tag(cli, in_tmp):
    write(in_tmp / "mlmeta.toml", '[policy]\nTier1 = ["limitations"]\n')
    result = cli("validate")
    assert result.exit_code == 2 and "policy.\"Tier1\"" in result.stderr and "tag FQN" in result.stderr
