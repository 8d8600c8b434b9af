"""An MLflow address mlmeta cannot use is refused at once, naming the setting (no server)."""

from __future__ import annotations

import pytest

from tests.helpers.failing import SPEC, one_error, run
from tests.helpers.files import write


@pytest.fixture
def project(in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", SPEC)
    return in_tmp


@pytest.mark.parametrize("uri", ["ftp://mlflow.example.com", "mlflow-server", "databricks"])
def test_an_mlflow_uri_mlmeta_cannot_use_names_the_setting(cli, project, uri):
    result, took = run(cli, "init", "--from-mlflow", "churn", MLFLOW_TRACKING_URI=uri)
    assert result.exit_code == 2 and took < 2
    assert "MLFLOW_TRACKING_URI: expected the http(s) URL of an MLflow tracking server" in one_error(result)
