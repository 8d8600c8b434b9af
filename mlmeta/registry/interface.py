"""The registry interface: what every command asks an open registry (``Registry``), and what differs
from one registry to the next, known before any server is reached (``RegistryKind``).

The rest of mlmeta never compares a registry's name: it looks the registry up in
``mlmeta.registry.table`` and asks one of these. Adding a registry is writing one
``RegistryKind`` and one ``Registry`` and registering the kind in the table.

Nothing here imports an adapter, ``mlmeta.config`` or the spec model: the kinds are read by
commands that reach no server (``validate``), by the configuration's own checks, and by the spec
rules, and must cost nothing to import.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from mlmeta.registry.types import ProductionVersion, Promotion, Wanted


class Registry(Protocol):
    """An open registry: its server answered the handshake. Thread-safe; reads only."""

    name: str  # the name of its kind in the table ("mlflow", "kubeflow")

    @property
    def requests(self) -> int:
        """Requests sent so far (the JSON reports' ``mlflow_requests``, whatever the registry)."""

    @property
    def public_uri(self) -> str:
        """Where the registry is, fit to print and to put in an event (no credentials)."""

    def server_version(self) -> str | None:
        """The server's version as it says it, or None when it does not."""

    def server_summary(self) -> str:
        """What the server answered, as ``doctor`` says it after "answers: "."""

    def prefetch(self, names: list[str]) -> None:
        """Read many registered models in a few calls, so each spec's promotion costs none of its own."""

    def prefetch_versions(self, promotions: list[Promotion]) -> None:
        """Read the versions of many promotions in a few calls (for ``model_version``)."""

    def prefetch_facts(self, promotions: list[Promotion]) -> None:
        """Read what ``facts`` needs for many promotions in a few calls, where the registry can."""

    def known_models(self) -> list[dict[str, Any]]:
        """The registered models read so far (by ``prefetch`` or ``all_registered_models``)."""

    def all_registered_models(self) -> list[dict[str, Any]]:
        """Every registered model (``watch --all-models``, ``import``)."""

    def registered_model(self, name: str) -> dict[str, Any]:
        """One registered model as the registry has it; RegistryError (R004) when there is none."""

    def registered_model_exists(self, name: str) -> bool: ...

    def promotion(self, wanted: Wanted) -> Promotion | None:
        """Which version is in Production, and what said so; None when no version is."""

    def promotion_in(self, model: dict[str, Any], wanted: Wanted) -> Promotion | None:
        """The same, from a registered model already read (``known_models``)."""

    def aliases(self, name: str) -> dict[str, str]:
        """Every alias a version of the model carries (alias -> version); {} where there are no aliases."""

    def latest(self, name: str) -> Promotion | None:
        """The newest version, promoted or not (``mlmeta init``)."""

    def production_version(self, wanted: Wanted) -> ProductionVersion | None:
        """The facts of the Production version, or None when no version is in Production."""

    def facts(self, promotion: Promotion) -> ProductionVersion:
        """Everything the registry (and the version's run) knows about a version."""

    def version_in_url(self, url: str | None, name: str) -> str | None:
        """The version a published entity's ``sourceUrl`` (the version's UI link) names, or None."""

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """The version as a promotion event carries it: MLflow's model-version record's shape."""


@dataclass(frozen=True)
class ProbeTarget:
    """One cheap request that says whether the registry's server is up (``triggers.outage``)."""

    server: str  # how messages name it
    base_url: str
    path: str
    verify: bool | str = True  # TLS verification: a CA bundle's path, or whether to verify


class RegistryKind(ABC):
    """A registry as mlmeta knows it before reaching it: how people call it, which setting says where
    it is, the spec block that configures it, what it can do - and how to open it."""

    name: str  # what ``registry =`` and a spec's ``registry:`` say
    label: str  # how messages name it: "MLflow", "Kubeflow Model Registry"
    address_setting: str  # the environment variable that says where it is: MLFLOW_TRACKING_URI
    address_key: str  # the same, as a project-file key and a Settings field: mlflow_tracking_uri
    address_example: str  # a value of it, for fixes: http://your-mlflow:5000
    spec_block: str  # the spec's block that says where a model is in it: "mlflow", "kubeflow"
    has_default_production: bool  # a version can be in Production without a spec saying what marks it
    sends_webhooks: bool  # it calls ``webhook serve`` when a version is promoted
    named_in_results: bool  # results and plans name it (all but MLflow, which they predate)
    service_type: str  # the OpenMetadata ML model service type of its models: "Mlflow", "CustomMlModel"
    service_connection: str | None  # the connection type that service records its address under, if any
    init_flag: str  # the ``mlmeta init`` flag a team on this registry types: --from-registry

    def address(self, settings: Any) -> str | None:
        """Where it is, as the settings say (None when unset); the published fingerprint records it."""
        return getattr(settings, self.address_key)

    @abstractmethod
    def open(self, settings: Any) -> Registry:
        """The registry's adapter; it checks the server is what it claims to be."""

    @abstractmethod
    def wanted(self, spec: Any, settings: Any) -> Wanted:
        """What says which version of the spec's model is in Production, in this registry; RegistryError
        (S002) when the spec does not say what this registry needs to know."""

    @abstractmethod
    def probe(self, settings: Any) -> ProbeTarget:
        """The cheap request that says whether the server is up."""
