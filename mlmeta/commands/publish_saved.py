"""Saved plans, as a run holds to them: what ``plan -o`` records of each model (``PLANNED``), and the
check that ``publish --plan`` makes before any write - a plan that no longer holds refuses its model
(P003) with one line saying what changed.
"""

from __future__ import annotations

import json
from typing import Any

from mlmeta.commands.publish_types import Context, Failed, ModelResult
from mlmeta.registry.types import version_label
from mlmeta.spec.load import LoadedSpec

STALE_PLAN = "P003"  # the saved plan no longer holds
PLANNED = ("production", "catalog", "service", "create", "patch", "lineage")  # a saved plan's entry, per model


def catalog_state(ctx: Context, model_fqn: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entity a plan is made against: a change to any of these since makes the plan stale."""
    if current is None:
        return None
    return {"id": current.get("id"), "version": current.get("version"), "updatedAt": current.get("updatedAt"),
            "etag": ctx.catalog.etag(model_fqn) if ctx.catalog.release.has("if_match") else None}


def as_json(value: Any) -> Any:
    """A value as a saved plan holds it (tuples become lists ...), so that the two compare equal."""
    return json.loads(json.dumps(value))


def expect(ctx: Context, loaded: LoadedSpec, result: ModelResult, key: str, value: Any) -> None:
    """Record what this run read or would write (``result.planned``: a saved plan's entry) and - when
    applying a saved plan - hold it to the plan's, before anything is written: anything else refuses
    the model (a stale plan is made again, never half applied)."""
    value = as_json(value)
    result.planned[key] = value
    if ctx.options.expected is None:
        return
    entry = ctx.options.expected.get(result.model)
    if entry is None:
        raise Failed(loaded.diagnostic(("name",), STALE_PLAN, f"{result.model} is not in the saved plan; make a new "
                                                               "plan", named=False))
    if entry.get(key) != value:
        raise Failed(loaded.diagnostic(("name",), STALE_PLAN, stale_reason(key, entry.get(key), value)
                                        + "; make a new plan", named=False))


def stale_reason(key: str, planned: Any, now: Any) -> str:
    """One line for people: what changed since the plan was made."""
    if key == "production":
        def said(production: Any) -> str:
            return (f"{version_label(production['version'])} ({production['recognised_by']} {production['marker']})"
                    if production else "no version")
        return (f"the registry changed since the plan: {said(now)} is in Production now, the plan was made for "
                f"{said(planned)}")
    if key == "catalog":
        if planned is None:
            return "the catalog changed since the plan: the model exists now, the plan would create it"
        if now is None:
            return "the catalog changed since the plan: the model is gone, the plan would update it"
        if planned.get("id") != now.get("id"):
            return "the catalog changed since the plan: the model was deleted and created again"
        if planned.get("version") != now.get("version"):
            return (f"the catalog changed since the plan: the model is at version {now.get('version')} now, the plan "
                    f"was made against {planned.get('version')}")
        what = "ETag" if planned.get("etag") != now.get("etag") else "update time"
        return (f"the catalog changed since the plan: the model's {what} differs (version {now.get('version')} both: "
                "an edit the version does not show)")
    what = {"service": "the ML model service to create", "create": "the create request",
            "patch": "the JSON Patch", "lineage": "the lineage edges"}[key]
    return (f"{what} would differ from the plan's: what the model reads (its sources in the catalog, its lineage, "
            "its version's facts in the registry) changed since the plan")

