from __future__ import annotations

from pathlib import Path

import pytest

from mlmeta.config import load_settings, normalize_host
from mlmeta.errors import ConfigError
from mlmeta.secrets import redact
from tests.helpers.files import write


def test_defaults_without_a_project_file(in_tmp):
    settings = load_settings(environ={})
    assert settings.spec_paths == (Path("model_specs"),)
    assert settings.alias == "champion" and settings.verify_tls is True and settings.project_file is None


def test_precedence_flags_over_environment_over_file(in_tmp):
    write(in_tmp / "mlmeta.toml", 'openmetadata_host = "http://file:8585"\nalias = "prod"\nconcurrency = 4\n')
    env = {"OPENMETADATA_HOST": "http://env:8585"}
    settings = load_settings({"concurrency": 2, "alias": None}, environ=env)
    assert settings.openmetadata_host == "http://env:8585" and settings.where("openmetadata_host") == "OPENMETADATA_HOST"
    assert settings.alias == "prod" and settings.concurrency == 2
    assert settings.where("concurrency") == "--concurrency"


def test_project_file_is_found_from_a_subfolder_and_paths_are_relative_to_it(in_tmp):
    write(in_tmp / "pyproject.toml", '[tool.mlmeta]\nspec_paths = ["specs"]\n')
    sub = in_tmp / "a" / "b"
    sub.mkdir(parents=True)
    settings = load_settings(environ={}, cwd=sub)
    assert settings.spec_paths == (in_tmp.resolve() / "specs",)


@pytest.mark.parametrize("content, message", [
    ('concurrency = "4"\n', "concurrency in .*: expected a whole number"),
    ('verify_tls = "no"\n', "verify_tls in .*: expected true or false"),
    ('spec_paths = "specs"\n', "spec_paths in .*: expected a list of strings"),
    ('token = "abc"\n', "tokens never go in a project file"),
    ('servce = "x"\n', "did you mean 'service'"),
    ("concurrency = 0\n", "must be between 1 and 64"),
    ("alias = [\n", "invalid TOML"),
])
def test_wrong_settings_name_the_setting(in_tmp, content, message):
    write(in_tmp / "mlmeta.toml", content)
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={})


def test_host_is_normalised_to_the_api_base():
    assert normalize_host("http://localhost:8585", "x") == "http://localhost:8585/api"
    assert normalize_host("https://om.example.com/api/", "x") == "https://om.example.com/api"
    with pytest.raises(ConfigError, match="OPENMETADATA_HOST: expected an http"):
        normalize_host("localhost:8585", "OPENMETADATA_HOST")


def test_token_from_file_is_read_and_redacted_everywhere(in_tmp):
    token = "eyJhbGciOiJIUzI1NiJ9.secret-part.signature"
    write(in_tmp / "token", token + "\n")
    settings = load_settings(environ={"OPENMETADATA_JWT_TOKEN_FILE": str(in_tmp / "token")})
    assert settings.require_token() == token
    assert token not in repr(settings)
    assert redact(f"401 for Bearer {token}") == "401 for Bearer ***"


def test_missing_token_file_is_a_configuration_error(in_tmp):
    with pytest.raises(ConfigError, match="OPENMETADATA_JWT_TOKEN_FILE: cannot read token file"):
        load_settings(environ={"OPENMETADATA_JWT_TOKEN_FILE": str(in_tmp / "nope")})


def test_missing_settings_explain_how_to_set_them(in_tmp):
    settings = load_settings(environ={})
    with pytest.raises(ConfigError, match="OPENMETADATA_HOST: not set") as error:
        settings.api_url()
    assert "export OPENMETADATA_HOST" in error.value.hint
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI: not set"):
        settings.require_tracking_uri()
