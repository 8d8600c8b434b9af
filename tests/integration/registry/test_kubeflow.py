"""The Kubeflow Model Registry adapter against the KF MR stand-in: paging, batched reads, the rules."""

from __future__ import annotations

import pytest
import requests

from mlmeta.registry import kubeflow
from mlmeta.registry.kubeflow_rules import Rule
from mlmeta.registry.types import RegistryError, Wanted
from mlmeta.standins.kubeflow import StandIn

STAGE = Rule(property="stage", value="production")


@pytest.fixture
def registry():
    with StandIn() as standin:
        yield standin


def add_model(registry, name: str, versions: int, production: int | None = None) -> None:
    base = registry.url + "/api/model_registry/v1"
    model = requests.post(base + "/registered_models", json={"name": name}, timeout=10).json()
    for i in range(1, versions + 1):
        properties = {"stage": {"metadataType": "MetadataStringValue", "string_value": "production"}} \
            if i == production else {}
        requests.post(base + "/model_versions", json={"name": f"v{i}", "registeredModelId": model["id"],
                                                      "customProperties": properties}, timeout=10).raise_for_status()


def test_the_adapter_follows_next_page_tokens(registry, monkeypatch):
    add_model(registry, "churn", 5)
    monkeypatch.setattr(kubeflow, "PAGE", 2)
    adapter = kubeflow.KubeflowRegistry(registry.url)
    promotion = adapter.promotion(Wanted("churn", rule=Rule(newest_live=True)))
    assert promotion.version == "v5" and promotion.recognised_by == "newest_live"
    assert adapter.requests == 1 + 1 + 3  # handshake, the model, three pages of versions


def test_many_models_cost_a_few_requests_not_one_per_model(registry):
    for i in range(30):
        add_model(registry, f"m{i}", 3, production=2)
    adapter = kubeflow.KubeflowRegistry(registry.url)
    adapter.prefetch([f"m{i}" for i in range(30)] + ["not_there"])
    promotions = [adapter.promotion(Wanted(f"m{i}", rule=STAGE)) for i in range(30)]
    assert {p.version for p in promotions} == {"v2"}
    assert adapter.requests == 3  # handshake, the registered models, every version
    with pytest.raises(RegistryError, match="'not_there' not found in Kubeflow Model Registry"):
        adapter.promotion(Wanted("not_there", rule=STAGE))
    assert adapter.requests == 3  # known to be absent: not asked again


def test_an_archived_version_is_never_production_by_its_property(registry):
    add_model(registry, "churn", 2, production=2)
    base = registry.url + "/api/model_registry/v1"
    archived = next(v["id"] for v in registry.state.versions.values() if v["name"] == "v2")
    requests.patch(f"{base}/model_versions/{archived}", json={"state": "ARCHIVED"}, timeout=10).raise_for_status()
    assert kubeflow.KubeflowRegistry(registry.url).promotion(Wanted("churn", rule=STAGE)) is None
