"""Machine-readable output: one JSON document on stdout, stable keys, a ``version`` to evolve."""

from __future__ import annotations

import json
from typing import Any

from mlmeta.diagnostics import Severity
from mlmeta.output import console
from mlmeta.catalog.provenance import SETUP_STATUSES

SCHEMA_VERSION = 1


def dump(document: dict[str, Any]) -> None:
    console.out(json.dumps({"version": SCHEMA_VERSION, **document}, indent=2, ensure_ascii=False))


def validation_document(report) -> dict[str, Any]:
    return {
        "command": "validate",
        **({"openmetadata": report.openmetadata} if report.openmetadata else {}),
        "files": [{"path": f.path, "format": f.format, "valid": f.valid} for f in report.files],
        "diagnostics": [d.as_dict() for d in report.diagnostics],
        "warnings": report.warnings,
        "summary": {
            "files": len(report.files),
            "invalid": sum(1 for f in report.files if not f.valid),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
        },
    }


def render_validation(report) -> None:
    dump(validation_document(report))


def render_setup(steps, dry_run: bool) -> None:
    dump({"command": "setup", "dry_run": dry_run, "properties": [s.as_dict() for s in steps],
          "summary": {status: sum(1 for s in steps if s.status == status)
                      for status in SETUP_STATUSES}})


def render_publish(report) -> None:
    dump({
        "command": report.mode,
        **({"openmetadata": report.openmetadata} if report.openmetadata else {}),
        "properties": [s.as_dict() for s in report.setup],
        "models": [r.as_dict() for r in report.results],
        "invalid": [{"path": f.path, "diagnostics": [d.as_dict() for d in f.diagnostics]} for f in report.invalid],
        "warnings": report.warnings,
        **({"left_alone": report.left_alone.as_dict()} if report.left_alone else {}),
        "summary": {**report.counts, "openmetadata_requests": report.requests,
                    "mlflow_requests": report.mlflow_requests},
    })


def render_drift(report) -> None:
    dump({"command": "drift", "diagnostics": [d.as_dict() for d in report.diagnostics],
          "orphans": report.orphans, "warnings": report.warnings,
          **({"left_alone": report.left_alone.as_dict()} if report.left_alone else {}),
          "summary": {"checked": report.checked, "drifted": report.drifted, "orphans": len(report.orphans),
                      "findings": len(report.findings) + len(report.orphans), "invalid": len(report.invalid)}})
