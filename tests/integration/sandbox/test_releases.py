"""Each release's own schemas (mlmeta.standins.openmetadata.schemas): fetched once, never installed, side by side."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlmeta.catalog.releases import parse_version
from mlmeta.standins.openmetadata import schemas as releases
from tests.helpers.files import REPO


def test_each_version_plays_its_minors_newest_wheel():
    assert releases.wheel_for(parse_version("1.9.3")) == "1.9.17.6"
    assert releases.wheel_for(parse_version("2.0.0")) == "2.0.7.0"
    assert releases.wheel_for(parse_version("2.3.1")) == "2.0.7.0"  # newer than known: the newest schemas
    assert releases.DEFAULT_VERSION == "2.0.7"
def test_two_releases_validate_side_by_side_without_the_installed_sdk():
    """In a fresh interpreter: 1.8 takes one `domain` and refuses `domains`, 2.0 the other way round,
    and neither touches the `metadata` package of the installed SDK."""
    code = """
import json, sys
from pydantic import ValidationError
from mlmeta.standins.openmetadata.schemas import schemas
found = {}
for version, field, value in (("1.8.12", "domain", "sales"), ("2.0.7", "domains", ["sales"])):
    model = schemas(version).model("CreateMlModel")
    model.model_validate({"name": "m", "service": "s", field: value})
    other = "domains" if field == "domain" else "domain"
    try:
        model.model_validate({"name": "m", "service": "s", other: value})
        found[version] = "accepted"
    except ValidationError as error:
        found[version] = error.errors()[0]["type"]
# the SDK's own base model renames names on validation; the server (and the shim) keep them
found["name"] = schemas("2.0.7").model("CreateMlModel").model_validate({"name": "a.b/c", "service": "s"}).name.root
found["sdk_imported"] = "metadata" in sys.modules
print(json.dumps(found))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"1.8.12": "extra_forbidden", "2.0.7": "extra_forbidden", "name": "a.b/c", "sdk_imported": False}


def test_a_release_is_fetched_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MLMETA_CACHE", str(tmp_path))
    calls = []
    real = releases._download

    def counting(version, folder):
        calls.append(version)
        return real(version, folder)

    monkeypatch.setattr(releases, "_download", counting)
    first = releases.ensure("1.5.15.2")
    second = releases.ensure("1.5.15.2")
    assert first == second and calls == ["1.5.15.2"]
    package = first / releases.package_name("1.5.15.2")
    assert (package / "generated" / "schema" / "api" / "data" / "createMlModel.py").is_file()
    assert not (package / "ingestion").exists()  # only the generated tree, and the shim
    text = (package / "generated" / "schema" / "api" / "data" / "createMlModel.py").read_text()
    assert "from metadata." not in text and "omschema_1_5_15_2.custom_pydantic" in text


def test_a_release_that_cannot_be_fetched_says_so_without_a_traceback(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("MLMETA_CACHE", str(tmp_path))
    monkeypatch.setattr(releases, "WHEELS", {**releases.WHEELS, (1, 6): "1.6.999.0"})
    result = cli("sandbox", "--server-version", "1.6.2", "--port", "0")
    assert result.exit_code == 2
    assert "could not fetch openmetadata-ingestion==1.6.999.0" in result.stderr and "MLMETA_CACHE" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--server-version", "1.4.2"], "--server-version: OpenMetadata 1.4.2 is older than 1.5"),
    (["--quirk", "telepathy"], "--quirk: unknown behaviour 'telepathy'"),
])
def test_a_release_the_sandbox_cannot_play_is_a_usage_error(cli, args, message):
    result = cli("sandbox", *args)
    assert result.exit_code == 2 and message in result.stderr
