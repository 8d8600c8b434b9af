"""No Docker engine runs here: the compose file and the Dockerfiles are checked as files."""

from __future__ import annotations

import re

import yaml

from tests.helpers.files import REPO

DOCKER = REPO / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


def test_the_stack_has_openmetadata_and_mlflow_with_their_stores():
    services = compose()["services"]
    assert {"openmetadata-server", "execute-migrate-all", "postgresql", "elasticsearch", "mlflow", "minio",
            "create-bucket"} <= set(services)
    assert services["openmetadata-server"]["image"].startswith("docker.getcollate.io/openmetadata/server:")
    assert "${OPENMETADATA_VERSION:-2.0." in services["openmetadata-server"]["image"]
    command = " ".join(services["mlflow"]["command"])
    assert "postgresql://" in command and "s3://" in command
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_ports_are_published_where_the_readme_says():
    services = compose()["services"]
    assert "8585:8585" in services["openmetadata-server"]["ports"]
    assert "5000:5000" in services["mlflow"]["ports"]
    assert "9001:9001" in services["minio"]["ports"]


def test_long_running_services_have_health_checks_and_start_in_order():
    services = compose()["services"]
    for name in ("postgresql", "elasticsearch", "openmetadata-server", "minio", "mlflow"):
        assert services[name]["healthcheck"]["test"], name
    assert services["openmetadata-server"]["depends_on"]["execute-migrate-all"]["condition"] == \
        "service_completed_successfully"
    assert services["execute-migrate-all"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert services["mlflow"]["depends_on"]["create-bucket"]["condition"] == "service_completed_successfully"


def test_no_secrets_beyond_overridable_local_defaults():
    text = (DOCKER / "docker-compose.yml").read_text()
    assert "eyJ" not in text  # no JWT
    for match in re.finditer(r"(PASSWORD|SECRET)[A-Z_]*:\s*(\S+)", text):
        assert match.group(2).startswith("${"), f"{match.group(0)} is not overridable"


def test_the_mlmeta_image_is_slim_non_root_and_constrained():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "-c constraints.txt" in dockerfile
    assert "'.[kafka]'" in dockerfile  # the README's service example sends events to Kafka
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["mlmeta"]' in dockerfile
