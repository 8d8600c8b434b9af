"""A server that is down, slow or not what it claims: mlmeta fails fast, once, with the true cause.

Every row of the failure table, through the real CLI and real sockets: a listener that accepts
and never answers, a closed port, a name that does not resolve, an HTTP server that is not
MLflow or OpenMetadata, a plain-HTTP server behind https://, a token that may not write, a
server failing on every read. Times are asserted loosely (the benchmark measures them).
"""

from __future__ import annotations

import json

import pytest

from mlmeta.demo.peers import silent_listener, web_server
from mlmeta.demo.services import free_port
from tests.helpers.failing import SPEC, one_error, run
from tests.helpers.files import write


@pytest.fixture
def project(in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", SPEC)
    return in_tmp


def test_openmetadata_that_never_answers_fails_within_the_deadline(cli, project, sandbox):
    with silent_listener() as url:
        result, took = run(cli, "plan", OPENMETADATA_HOST=url, OPENMETADATA_JWT_TOKEN=sandbox.token())
    assert result.exit_code == 2
    assert "did not answer for 3 s" in one_error(result) and "no answer within 1 s" in result.stderr
    assert 2.5 < took < 8


def test_nothing_listening_fails_at_once_naming_the_setting(cli, project, sandbox):
    result, took = run(cli, "plan", OPENMETADATA_HOST=f"http://127.0.0.1:{free_port()}",
                       OPENMETADATA_JWT_TOKEN=sandbox.token())
    assert result.exit_code == 2 and took < 3
    assert "refused the connection" in one_error(result) and "OPENMETADATA_HOST" in result.stderr


def test_a_host_name_that_does_not_resolve_fails_at_once(cli, project, sandbox):
    result, took = run(cli, "plan", OPENMETADATA_HOST="http://openmetadata.does-not-exist.invalid:8585",
                       OPENMETADATA_JWT_TOKEN=sandbox.token())
    assert result.exit_code == 2 and took < 5
    assert "cannot resolve the host name 'openmetadata.does-not-exist.invalid'" in one_error(result)


def test_https_for_a_plain_http_server_names_the_true_cause(cli, project, sandbox):
    result, took = run(cli, "plan", OPENMETADATA_HOST=sandbox.url.replace("http://", "https://"),
                       OPENMETADATA_JWT_TOKEN=sandbox.token())
    assert result.exit_code == 2 and took < 3
    assert "does not speak TLS: the server answers plain HTTP" in one_error(result)


def test_a_web_server_that_is_not_openmetadata_is_named_so(cli, project, sandbox):
    with web_server() as url:
        result, _ = run(cli, "plan", OPENMETADATA_HOST=url, OPENMETADATA_JWT_TOKEN=sandbox.token())
    assert result.exit_code == 2
    assert "no OpenMetadata API answers" in one_error(result) and "HTML page" in result.stderr


def test_a_busy_server_on_the_version_check_is_retried(cli, project, sandbox, mlflow_server, registry):
    registry.alias("churn", registry.register("churn"))
    sandbox.set_faults(failure_rate=1.0, statuses=[429], retry_after=0, path_pattern="system/version", limit=2)
    result, _ = run(cli, "plan", "--format", "json", OPENMETADATA_HOST=sandbox.url,
                    OPENMETADATA_JWT_TOKEN=sandbox.token(), MLFLOW_TRACKING_URI=mlflow_server.url)
    assert result.exit_code == 0, result.stderr
    assert sandbox.stats()["faulted"] == {"GET /v1/system/version": 2}


def test_a_token_that_may_not_write_is_a_configuration_error(cli, project, sandbox, mlflow_server, registry):
    registry.alias("churn", registry.register("churn"))
    result, _ = run(cli, "publish", "--all", OPENMETADATA_HOST=sandbox.url, OPENMETADATA_JWT_TOKEN=sandbox.token("dana"),
                    MLFLOW_TRACKING_URI=mlflow_server.url)
    assert result.exit_code == 2
    assert "may not POST /v1/mlmodels" in one_error(result) and "operations [Create] not allowed" in result.stderr


def test_validate_online_under_a_persistent_server_error_is_not_a_bug(cli, project, sandbox):
    sandbox.set_faults(failure_rate=1.0, statuses=[503], path_pattern="/v1/tables")
    result, _ = run(cli, "validate", "--online", OPENMETADATA_HOST=sandbox.url, MLFLOW_TRACKING_URI="",
                    OPENMETADATA_JWT_TOKEN=sandbox.token(), MLMETA_DEADLINE="30")
    assert result.exit_code == 2
    error = one_error(result, notice="MLflow checks skipped")
    assert "OpenMetadata could not answer the checks" in error and "HTTP 503" in error
    assert "internal error" not in result.stderr


def test_mlflow_refused_is_one_configuration_error(cli, project, sandbox):
    for i in range(20):
        write(project / "model_specs" / f"m{i}.yaml", SPEC.replace("churn", f"m{i}"))
    result, took = run(cli, "publish", "--all", OPENMETADATA_HOST=sandbox.url, OPENMETADATA_JWT_TOKEN=sandbox.token(),
                       MLFLOW_TRACKING_URI=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 2 and took < 5
    assert "MLflow refused the connection" in one_error(result) and "MLFLOW_TRACKING_URI" in result.stderr
    assert "R004" not in result.stdout


def test_mlflow_that_never_answers_fails_within_the_deadline(cli, project, sandbox):
    with silent_listener() as url:
        result, took = run(cli, "init", "--from-mlflow", "churn", MLFLOW_TRACKING_URI=url)
    assert result.exit_code == 2 and 2.5 < took < 8
    assert "MLflow at" in one_error(result) and "did not answer for 3 s" in result.stderr


def test_a_server_that_is_not_mlflow_is_named_so(cli, project, sandbox):
    with web_server() as url:
        result, _ = run(cli, "publish", "--all", OPENMETADATA_HOST=sandbox.url,
                        OPENMETADATA_JWT_TOKEN=sandbox.token(), MLFLOW_TRACKING_URI=url)
    assert result.exit_code == 2
    assert "this is not an MLflow tracking server" in one_error(result) and "MLFLOW_TRACKING_URI" in result.stderr


def test_json_error_documents_for_machines(cli, project, sandbox):
    result, _ = run(cli, "plan", "--format", "json", OPENMETADATA_HOST=f"http://127.0.0.1:{free_port()}",
                    OPENMETADATA_JWT_TOKEN=sandbox.token())
    document = json.loads(result.stdout)
    assert document["error"]["exit_code"] == 2 and "refused" in document["error"]["message"]
