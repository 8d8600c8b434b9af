"""A third registry, defined here and nowhere in ``mlmeta/``: registered in the table, it is read by a
real publish against the OpenMetadata sandbox - the proof that the registry seam is the only one."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mlmeta.registry import table
from mlmeta.registry.interface import ProbeTarget, Registry, RegistryKind
from mlmeta.registry.types import ProductionVersion, Promotion, RegistryError, SignatureInput, Wanted
from tests.helpers.files import write

MODEL, VERSION, ALIAS = "fake_churn", "7", "champion"
ADDRESS = "memory://fake-registry"
SPEC = f"""\
mlmeta: 1
name: churn_in_memory
service: fake_models
description: Who is about to leave.
mlflow:
  registered_model: {MODEL}
features:
  - name: tenure
    type: numerical
    sources:
      - column: demo_pg.postgres.public.users.premium
"""


class InMemoryRegistry:
    """One registered model, one version of it in Production under an alias; counts its reads."""

    name = "fake"

    def __init__(self) -> None:
        self.reads = 0
        self.model = {"name": MODEL, "aliases": {ALIAS: VERSION}}

    @property
    def requests(self) -> int:
        return self.reads

    @property
    def public_uri(self) -> str:
        return ADDRESS

    def server_version(self) -> str | None:
        return "1.0"

    def server_summary(self) -> str:
        return "in memory"

    def prefetch(self, names: list[str]) -> None:
        self.reads += 1

    def prefetch_versions(self, promotions: list[Promotion]) -> None:
        """Nothing to read ahead: every version is in memory."""

    def prefetch_facts(self, promotions: list[Promotion]) -> None:
        """Nothing to read ahead: every version is in memory."""

    def known_models(self) -> list[dict[str, Any]]:
        return [self.model]

    def all_registered_models(self) -> list[dict[str, Any]]:
        return [self.model]

    def registered_model(self, name: str) -> dict[str, Any]:
        if name != MODEL:
            raise RegistryError(f"registered model {name!r} not found in the fake registry")
        return self.model

    def registered_model_exists(self, name: str) -> bool:
        return name == MODEL

    def promotion(self, wanted: Wanted) -> Promotion | None:
        return self.promotion_in(self.registered_model(wanted.registered_model), wanted)

    def promotion_in(self, model: dict[str, Any], wanted: Wanted) -> Promotion | None:
        version = model["aliases"].get(wanted.alias)
        return Promotion(model["name"], version, "alias", wanted.alias) if version else None

    def aliases(self, name: str) -> dict[str, str]:
        return dict(self.registered_model(name)["aliases"])

    def latest(self, name: str) -> Promotion | None:
        return Promotion(name, VERSION, "latest", "latest")

    def production_version(self, wanted: Wanted) -> ProductionVersion | None:
        promotion = self.promotion(wanted)
        return self.facts(promotion) if promotion else None

    def facts(self, promotion: Promotion) -> ProductionVersion:
        return ProductionVersion(registered_model=promotion.registered_model, version=promotion.version,
                                 recognised_by=promotion.recognised_by, marker=promotion.marker,
                                 created_at=1_700_000_000_000, params={"depth": "4"}, metrics={"auc": 0.91},
                                 signature=(SignatureInput("tenure", "double"),), estimator="FakeForest",
                                 artifact_uri="memory://fake-registry/churn/7",
                                 version_url=self.version_url(promotion.version), registry=self.name)

    @staticmethod
    def version_url(version: str) -> str:
        return f"{ADDRESS}/models/{MODEL}/versions/{version}"

    def version_in_url(self, url: str | None, name: str) -> str | None:
        return (url or "").rsplit("/", 1)[-1] or None

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        return {"name": name, "version": version, "aliases": [a for a, v in self.model["aliases"].items()
                                                              if v == version]}


class FakeKind(RegistryKind):
    """The fake registry as the table knows it: aliases like MLflow's, no OpenMetadata connector."""

    name = "fake"
    label = "Fake Registry"
    address_setting = "FAKE_REGISTRY_URL"
    address_key = "fake_registry_url"
    address_example = ADDRESS
    spec_block = "mlflow"  # its models are named where MLflow's are: the spec model has no block of its own
    has_default_production = True
    sends_webhooks = False
    named_in_results = True
    service_type = "CustomMlModel"
    service_connection = None
    init_flag = "--from-registry"

    def __init__(self) -> None:
        self.opened: list[InMemoryRegistry] = []

    def address(self, settings: Any) -> str | None:
        return ADDRESS  # the registry lives in this process: no setting says where

    def open(self, settings: Any) -> Registry:
        self.opened.append(InMemoryRegistry())
        return self.opened[-1]

    def wanted(self, spec: Any, settings: Any) -> Wanted:
        return Wanted(spec.registered_model, spec.mlflow.alias or settings.alias)

    def probe(self, settings: Any) -> ProbeTarget:
        return ProbeTarget(self.label, ADDRESS, "/")


@pytest.fixture
def fake(monkeypatch):
    """The fake registry, in the table for this test only; the project reads it (MLMETA_REGISTRY)."""
    kind = FakeKind()
    monkeypatch.setitem(table.REGISTRIES, kind.name, kind)
    return kind


def catalog_get(sandbox, path: str) -> dict[str, Any]:
    answer = requests.get(f"{sandbox.api_url}{path}", headers={"Authorization": f"Bearer {sandbox.token('admin')}"},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_registry_named_in_the_table_is_a_setting_mlmeta_accepts(fake, in_tmp, cli):
    from mlmeta.config import load_settings

    settings = load_settings({}, environ={"MLMETA_REGISTRY": "fake"}, cwd=in_tmp)
    assert (settings.registry, settings.registry_address) == ("fake", ADDRESS)
    assert table.registry_label(settings) == "Fake Registry"


def test_a_third_registry_publishes_through_the_table_into_the_catalog(fake, cli, sandbox, in_tmp):
    write(in_tmp / "model_specs" / "churn.yaml", SPEC)
    env = {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token("mlmeta-bot"),
           "MLMETA_REGISTRY": "fake"}
    result = cli("publish", "--format", "json", "--all", "--create-service", env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    [model] = report["models"]
    assert model["status"] == "created"
    assert model["production"] == {"registered_model": MODEL, "version": VERSION, "recognised_by": "alias",
                                   "marker": ALIAS, "registry": "fake"}
    assert [r.reads for r in fake.opened] == [1] and report["summary"]["mlflow_requests"] == 1
    stored = catalog_get(sandbox, "/v1/mlmodels/name/fake_models.churn_in_memory")
    assert stored["algorithm"] == "FakeForest"
    assert stored["sourceUrl"] == InMemoryRegistry.version_url(VERSION)
    assert "alias `champion` in Fake Registry" in stored["description"]
    assert [f["name"] for f in stored["mlFeatures"]] == ["tenure"]
    service = catalog_get(sandbox, "/v1/services/mlmodelServices/name/fake_models")
    assert (service["serviceType"], service.get("connection")) == ("CustomMlModel", None)
    assert service["description"] == "Models of the fake registry, published by mlmeta."
    # a second run finds the same version in the same registry: nothing to write
    again = json.loads(cli("publish", "--format", "json", "--all", env=env).stdout)
    assert again["models"][0]["status"] == "unchanged"
