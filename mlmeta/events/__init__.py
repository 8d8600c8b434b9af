"""Promotion events: one record per promotion mlmeta acted on, as a CloudEvents 1.0 envelope.

``watch``, ``webhook serve`` and ``publish --emit-events`` turn each promotion they act on into
one ``PromotionEvent``; ``sinks`` deliver it (JSON Lines, HTTP, Kafka). The ``data`` carries at
least what the Kafka Connect MLflow source's "model export request" carried - name, version,
creation and last-update timestamps, user id, current stage, description, source, run id,
status, status message, tags, run link - plus the aliases, what recognised the promotion, and
what mlmeta did about it in the catalog.

The event ``id`` is a digest of the registered model, the version, the marker (alias or stage)
and the promotion's ``generation`` - what tells this outcome from every other of the same version
and marker: promote v2, roll back to v1, promote v2 again are three events with three ids. An
event sent again (a restart between publishing and checkpointing, a sink's spool, a Kafka batch
acted on again) carries the same generation, so the same id, and a consumer can drop duplicates
on it. ``watch``, ``webhook serve`` and the queue workers count the generation per watch key in
their checkpoint (``triggers.follow``); ``publish``, which keeps no state, names it by the catalog
versions it wrote (``triggers.promotions.catalog_generation``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mlmeta import secrets
SPEC_VERSION = "1.0"
EVENT_TYPE = "io.mlmeta.model.promoted"


@dataclass(frozen=True)
class CatalogOutcome:
    """What mlmeta did for the promoted version in OpenMetadata."""

    action: str  # created, updated, unchanged, failed, skipped (no spec documents the model)
    fqn: str | None = None
    entity_version: float | None = None
    spec: str | None = None
    message: str | None = None
    transient: bool = False  # failed because a server kept failing: not final, tried again (never in an event)


@dataclass(frozen=True)
class PromotionEvent:
    registered_model: str
    version: str
    recognised_by: str  # "alias" or "stage"
    marker: str  # the alias or stage name
    model_version: dict[str, Any]  # the registry's record of the version (MLflow REST JSON, or its KF MR match)
    generation: str  # which outcome of this version and marker: a retry keeps it, a new promotion changes it
    outcomes: tuple[CatalogOutcome, ...] = ()
    trigger: str = "watch"  # watch, webhook, publish
    source: str = "mlmeta"  # where the registry is (URI without credentials)
    registry: str = "mlflow"  # which kind of registry: mlflow or kubeflow (Kubeflow Model Registry)
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))

    @property
    def id(self) -> str:
        key = f"{self.registered_model}\n{self.version}\n{self.recognised_by}:{self.marker}\n{self.generation}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def key(self) -> str:
        """Partition key: one registered model's events stay in order."""
        return self.registered_model

    def envelope(self) -> dict[str, Any]:
        version = self.model_version
        tags = version.get("tags") or []
        data = {
            # what the "model export request" event carried
            "name": self.registered_model,
            "version": self.version,
            "creationTimestamp": _int(version.get("creation_timestamp")),
            "lastUpdatedTimestamp": _int(version.get("last_updated_timestamp")),
            "userId": version.get("user_id") or "",
            "currentStage": version.get("current_stage") or "None",
            "description": version.get("description") or "",
            "source": version.get("source") or "",
            "runId": version.get("run_id") or "",
            "status": version.get("status") or "",
            "statusMessage": version.get("status_message") or "",
            "tags": [{"key": t.get("key"), "value": t.get("value")} for t in tags if isinstance(t, dict)],
            "runLink": version.get("run_link") or "",
            # what made it Production, and what mlmeta did
            "aliases": sorted(version.get("aliases") or []),
            "promotion": {"recognisedBy": self.recognised_by, "marker": self.marker, "generation": self.generation},
            "registry": self.registry,
            **({"kubeflow": version["kubeflow"]} if version.get("kubeflow") else {}),  # KF MR's own ids and state
            "trigger": self.trigger,
            "catalog": [{"action": o.action, "fqn": o.fqn, "entityVersion": o.entity_version, "spec": o.spec,
                         "message": o.message} for o in self.outcomes],
        }
        # what the registry and the servers said goes to whoever reads the sink: no secret in it
        return secrets.redact_data({"specversion": SPEC_VERSION, "id": self.id, "source": self.source,
                                    "type": EVENT_TYPE, "time": self.time,
                                    "subject": f"{self.registered_model}/{self.version}",
                                    "datacontenttype": "application/json", "data": data})

    def json(self) -> str:
        return json.dumps(self.envelope(), sort_keys=True, separators=(",", ":"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
