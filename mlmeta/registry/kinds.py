"""MLflow and Kubeflow Model Registry as ``RegistryKind``s: their labels, settings, spec blocks and
Production markers; each opens its adapter (``registry/mlflow.py``, ``registry/kubeflow.py``) only
when asked, so that reading a kind imports no HTTP client.
"""

from __future__ import annotations

from typing import Any

from mlmeta.registry.interface import ProbeTarget, Registry, RegistryKind
from mlmeta.registry.kubeflow_rules import Rule
from mlmeta.registry.types import RegistryError, Wanted


class MlflowKind(RegistryKind):
    """MLflow's model registry: an alias (default ``champion``) or a stage marks Production."""

    name = "mlflow"
    label = "MLflow"
    address_setting = "MLFLOW_TRACKING_URI"
    address_key = "mlflow_tracking_uri"
    address_example = "http://your-mlflow:5000"
    spec_block = "mlflow"
    has_default_production = True
    sends_webhooks = True
    named_in_results = False
    service_type = "Mlflow"
    service_connection = "Mlflow"
    init_flag = "--from-mlflow"

    def open(self, settings: Any) -> Registry:
        from mlmeta.registry.mlflow import MlflowRegistry

        return MlflowRegistry.from_settings(settings)

    def wanted(self, spec: Any, settings: Any) -> Wanted:
        return Wanted(spec.registered_model, spec.mlflow.alias or settings.alias, spec.mlflow.stage)

    def probe(self, settings: Any) -> ProbeTarget:
        return ProbeTarget(self.label, settings.registry_uri(), "/health")


class KubeflowKind(RegistryKind):
    """Kubeflow Model Registry: no aliases or stages, so each spec's ``kubeflow.production`` rule says
    what marks Production; OpenMetadata has no connector for it (a custom ML model service)."""

    name = "kubeflow"
    label = "Kubeflow Model Registry"
    address_setting = "MODEL_REGISTRY_URL"
    address_key = "kubeflow_url"
    address_example = "https://your-model-registry:8443"
    spec_block = "kubeflow"
    has_default_production = False
    sends_webhooks = False
    named_in_results = True
    service_type = "CustomMlModel"
    service_connection = None
    init_flag = "--from-registry"

    def open(self, settings: Any) -> Registry:
        from mlmeta.registry.kubeflow import KubeflowRegistry

        return KubeflowRegistry.from_settings(settings)

    def wanted(self, spec: Any, settings: Any) -> Wanted:
        production = spec.kubeflow.production if spec.kubeflow else None
        if production is None:
            raise RegistryError("the registry is Kubeflow Model Registry, which has no aliases or stages: say in "
                                "kubeflow.production what marks the Production version", code="S002",
                                loc=("kubeflow",) if spec.kubeflow else ("name",))
        return Wanted(spec.registered_model, rule=Rule.from_spec(production))

    def probe(self, settings: Any) -> ProbeTarget:
        from mlmeta.registry.kubeflow import API_V1ALPHA3, ca_bundle

        return ProbeTarget(self.label, settings.require_kubeflow_url(), f"{API_V1ALPHA3}/registered_models?pageSize=1",
                           ca_bundle())


MLFLOW, KUBEFLOW = MlflowKind(), KubeflowKind()
