"""The records of a ``plan`` or ``publish`` run: its options, each model's result, the run's report,
and the context its specs share (settings, both servers' adapters, commits, this project's name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta.catalog import ownership, provenance
from mlmeta.commands.validate import FileReport
from mlmeta.config import Settings
from mlmeta.diagnostics import Diagnostic
from mlmeta.errors import ExitCode
from mlmeta.plan.desired import MARK
from mlmeta.plan.diff import Change
from mlmeta.registry.interface import Registry

STATUSES = ("created", "updated", "unchanged", "deleted", "skipped", "failed")
MAX_ATTEMPTS = 3  # re-reads when another writer got there first (409, 412)
INCOMPLETE = MARK + "incomplete"  # the fingerprint of a model whose publish did not finish


@dataclass
class Options:
    dry_run: bool = False
    create_service: bool = False
    require_production: bool = False
    strict: bool = False
    refresh: bool = False
    registered_model: str | None = None  # only the specs documenting this registered model
    prune: bool = False  # soft-delete the models mlmeta published whose spec is gone
    deleted_specs: list[tuple[str, str]] | None = None  # with --changed-since: (path, text) of deleted specs
    create_properties: bool = False  # define mlmeta's custom properties on the mlmodel type first
    record: bool = False  # plan -o: also read each model's ETag, so that a saved plan can be checked against it
    expected: dict[str, dict[str, Any]] | None = None  # publish --plan: model FQN -> the saved plan's entry
    commits: dict[str, str | None] | None = None  # publish --plan: spec path -> its commit when the plan was made


@dataclass
class ModelResult:
    spec: str
    model: str
    status: str = "failed"  # one of STATUSES; in a plan: what publish would do
    version_before: float | None = None
    version_after: float | None = None
    production: dict[str, str] | None = None
    changes: list[Change] = field(default_factory=list)
    lineage_added: list[str] = field(default_factory=list)
    lineage_updated: list[str] = field(default_factory=list)  # ours, redrawn with a new column mapping
    lineage_removed: list[str] = field(default_factory=list)
    lineage_columns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # added/updated: the mapping
    lineage_roles: dict[str, list[str]] = field(default_factory=dict)  # added/updated: what an edge stands for,
    # when it is more than a feature source (label source, training data, predictions)
    columns_added: list[tuple[str, str]] = field(default_factory=list)  # column-level pairs (from, to) drawn
    columns_removed: list[tuple[str, str]] = field(default_factory=list)  # ... and taken away
    outputs_added: list[str] = field(default_factory=list)  # downstream edges, to where the predictions land
    outputs_updated: list[str] = field(default_factory=list)
    outputs_removed: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    message: str | None = None
    transient: bool = False  # failed because a server kept failing (not the spec): worth trying again
    created_before_answer: bool = False  # our POST was retried and got 409: its first try had landed
    patch_may_have_landed: bool = False  # our PATCH was retried and got 412: its first try may have landed
    planned: dict[str, Any] = field(default_factory=dict)  # what the run read and would write (PLANNED keys)
    written: bool = False  # a write of this model reached the server

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "model": self.model, "status": self.status, "version_before": self.version_before,
                "version_after": self.version_after, "production": self.production,
                "changes": [c.as_dict() for c in self.changes],
                "lineage": {"added": self.lineage_added, "updated": self.lineage_updated,
                            "removed": self.lineage_removed, "columns": self.lineage_columns,
                            "roles": self.lineage_roles,
                            "column_pairs": {"added": [list(p) for p in self.columns_added],
                                             "removed": [list(p) for p in self.columns_removed]},
                            "outputs": {"added": self.outputs_added, "updated": self.outputs_updated,
                                        "removed": self.outputs_removed}},
                "diagnostics": [d.as_dict() for d in self.diagnostics], "message": self.message}


@dataclass
class Report:
    mode: str  # "plan" or "publish"
    results: list[ModelResult]
    invalid: list[FileReport] = field(default_factory=list)
    requests: int = 0  # OpenMetadata HTTP calls
    mlflow_requests: int = 0  # the registry's HTTP calls, whichever registry (the JSON key predates Kubeflow)
    setup: list[provenance.SetupStep] = field(default_factory=list)  # with --create-properties
    openmetadata: dict[str, Any] | None = None  # the server's release and its behaviours
    warnings: list[str] = field(default_factory=list)  # about the run, not one spec (no file to point at)
    registry: Any = None  # the registry adapter the run read (its events' versions come from it)
    commits: dict[str, str | None] = field(default_factory=dict)  # spec path -> the commit its entity records
    left_alone: ownership.LeftAlone | None = None  # with --prune: the orphans that are not this project's

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.results)
        counted["failed"] += len(self.invalid)
        return {status: counted.get(status, 0) for status in STATUSES}

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.invalid for d in f.diagnostics] + [d for r in self.results for d in r.diagnostics]

    @property
    def exit_code(self) -> ExitCode:
        setup_failed = any(step.status == "failed" for step in self.setup)
        return ExitCode.FINDINGS if self.counts["failed"] or setup_failed else ExitCode.OK


class Failed(Exception):
    """Ends one spec's pipeline with a diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class Context:
    settings: Settings
    catalog: Any  # mlmeta.catalog.openmetadata.OpenMetadataCatalog or a stand-in with the same methods
    registry: Registry  # the project's registry (mlmeta.registry.table.open_registry)
    options: Options
    commits: dict[Path, str]
    provenance: frozenset[str] = frozenset()  # mlmeta's custom properties the server defines
    helpers: ThreadPoolExecutor | None = None  # for the independent writes of one model (its edges)
    project: str = ""  # this project's name, the owner it records (mlmeta.catalog.ownership)

    @property
    def records_owner(self) -> bool:
        return ownership.recorded(self.provenance)

    def in_parallel(self, calls: list[Callable[[], Any]]) -> None:
        """Run independent requests at once (a model's lineage edges): a first publish sends one per
        source, and one after the other their latencies would add up."""
        if self.helpers is None or len(calls) < 2:
            for call in calls:
                call()
            return
        for future in [self.helpers.submit(call) for call in calls]:
            future.result()

