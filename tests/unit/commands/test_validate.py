"""``mlmeta validate`` as users and CI run it: exit codes, formats, default paths."""

from __future__ import annotations

import json

from tests.helpers.files import GOOD_SPEC, write

BAD_SPEC = GOOD_SPEC.replace("type: numerical", "type: numeric")


def test_valid_specs_exit_0(cli, in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", GOOD_SPEC)
    result = cli("validate")
    assert result.exit_code == 0
    assert result.stdout.strip() == "1 spec checked: all valid"


def test_findings_exit_1_with_file_line_col(cli, in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", BAD_SPEC)
    result = cli("validate", "model_specs")
    assert result.exit_code == 1
    assert ("model_specs/churn.yaml:5:11: error S004 features[0].type: invalid value 'numeric'; "
            "expected 'numerical' or 'categorical'") in result.stdout


def test_missing_path_is_a_usage_error_exit_2(cli, in_tmp):
    result = cli("validate", "nowhere")
    assert result.exit_code == 2
    assert "path not found: nowhere" in result.stderr


def test_unknown_option_is_a_usage_error_exit_2(cli, in_tmp):
    assert cli("validate", "--no-such-flag").exit_code == 2


def test_bad_project_file_is_a_configuration_error_exit_2(cli, in_tmp):
    write(in_tmp / "mlmeta.toml", 'spec_path = ["specs"]\n')
    result = cli("validate")
    assert result.exit_code == 2
    assert "spec_path in" in result.stderr and "did you mean 'spec_paths'?" in result.stderr


def test_spec_paths_come_from_the_project_file(cli, in_tmp):
    write(in_tmp / "pyproject.toml", '[tool.mlmeta]\nspec_paths = ["ml/specs"]\n')
    write(in_tmp / "ml" / "specs" / "a.yaml", GOOD_SPEC)
    write(in_tmp / "model_specs" / "ignored.yaml", BAD_SPEC)
    result = cli("validate")
    assert result.exit_code == 0, result.stdout


def test_json_format(cli, in_tmp):
    write(in_tmp / "model_specs" / "good.yaml", GOOD_SPEC)
    write(in_tmp / "model_specs" / "bad.yaml", BAD_SPEC)
    result = cli("validate", "--format", "json")
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["summary"] == {"files": 2, "invalid": 1, "errors": 1, "warnings": 0}
    assert document["files"] == [{"path": "model_specs/bad.yaml", "format": None, "valid": False},
                                 {"path": "model_specs/good.yaml", "format": "v1", "valid": True}]
    [finding] = document["diagnostics"]
    assert (finding["file"], finding["line"], finding["column"], finding["code"]) == ("model_specs/bad.yaml", 5, 11,
                                                                                      "S004")


def test_json_format_reports_usage_errors_as_json(cli, in_tmp):
    result = cli("validate", "nowhere", "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["message"] == "path not found: nowhere"


def test_github_format_annotates_and_writes_the_step_summary(cli, in_tmp):
    write(in_tmp / "model_specs" / "bad.yaml", BAD_SPEC)
    summary = in_tmp / "summary.md"
    result = cli("validate", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    assert ("::error file=model_specs/bad.yaml,line=5,col=11,title=mlmeta S004::features[0].type: invalid value "
            "'numeric'; expected 'numerical' or 'categorical'") in result.stdout.splitlines()
    markdown = summary.read_text()
    assert markdown.startswith("### mlmeta validate: 1 of 1 spec invalid")
    assert "| `model_specs/bad.yaml:5:11` | error | S004 |" in markdown


def test_two_specs_for_one_model_are_an_error(cli, in_tmp):
    write(in_tmp / "model_specs" / "a.yaml", GOOD_SPEC)
    write(in_tmp / "model_specs" / "b.yaml", GOOD_SPEC)
    result = cli("validate")
    assert result.exit_code == 1
    assert "model_specs/b.yaml:2:7: error S006 name: model 'churn' is already described by model_specs/a.yaml" \
        in result.stdout


def test_convert_writes_a_v1_spec_that_validates(cli, in_tmp, repo_root):
    out = in_tmp / "model_specs" / "revenue.yaml"
    out.parent.mkdir()
    result = cli("convert", str(repo_root / "examples" / "openmetadata-demo" / "ml_model.yaml"), "-o", str(out))
    assert result.exit_code == 0
    assert cli("validate", str(out)).exit_code == 0


def test_convert_of_an_invalid_file_shows_findings(cli, in_tmp):
    bad = write(in_tmp / "demo.yaml", "serviceName: s\nname: n\nmlFeatures: 3\n")
    result = cli("convert", str(bad))
    assert result.exit_code == 1
    assert "demo.yaml:3:13: error S003 mlFeatures: expected a list, found a number (3)" in result.stdout


def test_a_spec_without_a_service_is_reported_offline_unless_the_project_has_a_default(cli, in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", GOOD_SPEC.replace("service: ml_models\n", ""))
    result = cli("validate")
    assert result.exit_code == 1
    assert "model_specs/churn.yaml:1:1: error S002 missing key 'service'" in result.stdout
    write(in_tmp / "mlmeta.toml", 'service = "ml_models"\n')
    assert cli("validate").exit_code == 0


def test_convert_follows_the_rules_of_every_command(cli, in_tmp, repo_root):
    missing = cli("convert", "nowhere.yaml")
    assert missing.exit_code == 2 and "path not found: nowhere.yaml" in missing.stderr
    out = in_tmp / "model_specs" / "revenue.yaml"
    source = str(repo_root / "examples" / "openmetadata-demo" / "ml_model.yaml")
    assert cli("convert", source, "-o", str(out)).exit_code == 0
    assert "$schema" not in out.read_text()  # no schema file in this project: no dangling reference
    again = cli("convert", source, "-o", str(out))
    assert again.exit_code == 2 and "never overwrites" in again.stderr


def test_a_missing_default_spec_folder_says_where_it_looked(cli, in_tmp):
    result = cli("validate")
    assert result.exit_code == 2
    assert f"no spec folder model_specs/ in {in_tmp}" in result.stderr and "hint:" in result.stderr
