"""``mlmeta doctor`` against the sandbox and a real MLflow: all green, then each problem with its fix."""

from __future__ import annotations

import json

import git
import pytest

from tests.helpers.files import write
from tests.helpers.publishing import SPEC


@pytest.fixture
def project(in_tmp, cli, env):
    write(in_tmp / "mlmeta.toml", 'service = "mlflow_models"\n')
    write(in_tmp / "model_specs" / "m.yaml", SPEC.format(name="m", registered="m"))
    git.Repo.init(in_tmp)
    assert cli("setup", env=env).exit_code == 0
    return in_tmp


def doctor(cli, env) -> tuple[int, dict]:
    result = cli("doctor", "--format", "json", env=env)
    document = json.loads(result.stdout)
    assert "checks" in document, result.stdout
    return result.exit_code, {c["name"]: c for c in document["checks"]} | {"_settings": document["settings"]}


def test_the_demo_stack_is_all_green(cli, env, project):
    result = cli("doctor", env=env)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.rstrip().endswith("doctor: all green")
    assert "openmetadata_host = " in result.stdout and "(OPENMETADATA_HOST)" in result.stdout
    assert "service = mlflow_models  (service in " in result.stdout
    code, checks = doctor(cli, env)
    assert {name: c["status"] for name, c in checks.items() if name != "_settings"} == {
        "OpenMetadata": "ok", "token's user": "ok", "ML model service": "ok", "provenance properties": "ok",
        "MLflow": "ok", "spec folders": "ok", "git": "ok"}
    assert "mlmeta-bot (bot" in checks["token's user"]["detail"] and "MLflow 3." in checks["MLflow"]["detail"]
    assert env["OPENMETADATA_JWT_TOKEN"] not in json.dumps(checks)  # never the token itself


def test_a_wrong_token_is_a_problem_with_its_fix(cli, env, project):
    code, checks = doctor(cli, {**env, "OPENMETADATA_JWT_TOKEN": env["OPENMETADATA_JWT_TOKEN"][:-4] + "AAAA"})
    assert code == 1
    assert checks["token's user"]["status"] == "problem" and "rejected the token" in checks["token's user"]["detail"]
    assert "bot's JWT" in checks["token's user"]["fix"]


def test_a_wrong_host_is_a_problem_with_its_fix_and_the_rest_still_runs(cli, env, project):
    code, checks = doctor(cli, {**env, "OPENMETADATA_HOST": "http://127.0.0.1:9"})
    assert code == 1 and checks["OpenMetadata"]["status"] == "problem" and checks["OpenMetadata"]["fix"]
    assert checks["ML model service"]["status"] == "skipped" and checks["MLflow"]["status"] == "ok"


def test_a_missing_service_and_a_read_only_user_are_problems_with_their_fixes(cli, env, project, sandbox):
    write(project / "mlmeta.toml", 'service = "nowhere"\n')
    code, checks = doctor(cli, {**env, "OPENMETADATA_JWT_TOKEN": sandbox.token("dana")})
    assert code == 1
    assert checks["ML model service"]["status"] == "problem" and "--create-service" in checks["ML model service"]["fix"]
    assert checks["token's user"]["status"] == "problem" and "DataConsumer" in checks["token's user"]["detail"]
    assert "EditLineage" in checks["token's user"]["fix"]


def test_missing_properties_spec_folders_and_mlflow_are_reported(cli, env, in_tmp):
    code, checks = doctor(cli, {k: v for k, v in env.items() if k != "MLFLOW_TRACKING_URI"})
    assert code == 1
    assert checks["MLflow"]["status"] == "problem" and "MLFLOW_TRACKING_URI" in checks["MLflow"]["fix"]
    assert checks["spec folders"]["status"] == "problem" and checks["git"]["status"] == "warning"
    assert checks["provenance properties"]["status"] == "warning" and "mlmeta setup" in checks[
        "provenance properties"]["fix"]


def test_a_catalog_failing_one_check_makes_that_check_a_problem_and_the_others_still_run(cli, env, project, sandbox):
    # 429 with Retry-After: 0 - kept failing like a 500, without the waits between the retries
    sandbox.set_faults(failure_rate=1.0, statuses=[429], retry_after=0, path_pattern="mlmodelServices")
    code, checks = doctor(cli, env)
    assert code == 1
    service = checks["ML model service"]
    assert service["status"] == "problem" and "OpenMetadata could not answer" in service["detail"]
    assert "rerun when it is healthy" in service["fix"]
    assert checks["provenance properties"]["status"] == "ok" and checks["MLflow"]["status"] == "ok"


def test_doctors_own_short_wait_is_named_as_its_default_and_a_chosen_one_is_kept(cli, env, project):
    """Seen: ``timeout = 10.0 (--timeout)`` with no flag passed - and MLMETA_TIMEOUT overridden."""
    _, checks = doctor(cli, env)
    assert checks["_settings"]["timeout"] == {"value": "10.0", "from": "doctor's default"}
    assert checks["_settings"]["deadline"] == {"value": "20.0", "from": "doctor's default"}
    _, checks = doctor(cli, {**env, "MLMETA_TIMEOUT": "5"})
    assert checks["_settings"]["timeout"] == {"value": "5.0", "from": "MLMETA_TIMEOUT"}
    result = cli("doctor", "--timeout", "7", env=env)
    assert "timeout = 7.0  (--timeout)" in result.stdout and "deadline = 20.0  (doctor's default)" in result.stdout


def test_a_token_file_wins_over_the_token_and_doctor_says_the_token_is_ignored(cli, env, project, tmp_path_factory):
    token_file = write(tmp_path_factory.mktemp("secrets") / "token", env["OPENMETADATA_JWT_TOKEN"])
    wrong = env["OPENMETADATA_JWT_TOKEN"][:-4] + "AAAA"
    code, checks = doctor(cli, {**env, "OPENMETADATA_JWT_TOKEN": wrong, "OPENMETADATA_JWT_TOKEN_FILE": str(token_file)})
    assert code == 0 and checks["token's user"]["status"] == "ok"  # the file's token is the one used
    assert checks["_settings"]["token"] == {
        "value": "set", "from": "OPENMETADATA_JWT_TOKEN_FILE; OPENMETADATA_JWT_TOKEN is set too, and ignored: "
                                "a token file wins"}
    _, checks = doctor(cli, env)
    assert checks["_settings"]["token"] == {"value": "set", "from": "OPENMETADATA_JWT_TOKEN"}


def test_doctor_and_validate_online_say_the_server_is_mlmetas_sandbox(cli, env, project, sandbox, om):
    """Seen: "OpenMetadata 2.0.7" against ``mlmeta sandbox``, as if it were a real server."""
    _, checks = doctor(cli, env)
    assert "played by mlmeta's sandbox (not a real OpenMetadata server)" in checks["OpenMetadata"]["detail"]
    result = cli("validate", "--online", "--format", "json", env=env)
    assert json.loads(result.stdout)["openmetadata"]["sandbox"] is True
    assert "played by mlmeta's sandbox" in cli("validate", "--online", env=env).stdout
    # announced beside the release's own answer: OpenMetadata's SDK still reads the version it plays
    assert om().get_server_version() == sandbox.app.server_version
