"""Retirement: the catalog's models whose spec is gone (prune), and those whose registered model
has no version in Production any more (keep, mark or delete).

Both act only on entities carrying mlmeta's mark (``plan.desired.is_mlmetas``) and owned by this
project (``mlmeta.catalog.ownership``: ``orphans`` lists every marked one, ``publish.prune`` sorts them),
and both only soft-delete: a deleted model keeps its versions and lineage and comes back with
``PUT /v1/mlmodels/restore`` - which ``publish`` does by itself when a spec for it appears again.

``mark`` puts a notice at the top of the model's description (and, when ``not_in_production_tag``
is configured, that tag): the next promotion's publish renders the description anew and drops the
tag, so the mark goes away by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from mlmeta.catalog import fqn, ownership
from mlmeta.plan.desired import is_mlmetas, tag_label
from mlmeta.spec.load import LoadedSpec

NOTICE = "> **Not in production** (mlmeta):"


def policy(loaded: LoadedSpec, settings: Any) -> str:
    return loaded.spec.mlflow.when_not_in_production or settings.when_not_in_production


def not_in_production(ctx: Any, loaded: LoadedSpec, result: Any, reason: str) -> bool:
    """Apply the spec's policy to a model with nothing in Production; False: keep (skip) it."""
    how = policy(loaded, ctx.settings)
    current = ctx.catalog.model(result.model)
    if how == "keep" or current is None or not is_mlmetas(current):
        return False
    whose = ownership.standing(current, ctx.project)
    if whose == ownership.OTHERS:  # a spec here for another project's model: left alone, and said
        result.status, result.message = "failed", ownership.claimed_elsewhere(result.model, ownership.owner(current),
                                                                              ctx.project)
        result.diagnostics.append(loaded.diagnostic(("name",), "O001", result.message))
        return True
    if whose == ownership.UNOWNED:  # nobody's yet: never marked or deleted until a project adopts it
        result.status = "skipped"
        result.message = (f"{reason}: not {'marked' if how == 'mark' else 'deleted'}: "
                          + ("it has no recorded owner (mlmeta adopt makes it this project's)" if ctx.records_owner
                             else f"this catalog records no owner ({ownership.PROPERTY} is not defined: run mlmeta "
                                  "setup)"))
        return True
    result.version_before = result.version_after = current.get("version")
    if how == "delete":
        result.status, result.message = "deleted", f"{reason}: soft-deleted (a new promotion restores it)"
        problem = None if ctx.options.dry_run else delete_checked(ctx.catalog, current)
        if problem:
            result.status, result.message = "failed", problem
        return True
    operations = _mark(ctx, current, reason)
    result.status = "updated" if operations else "unchanged"
    result.message = f"{reason}: marked" if operations else f"{reason}: already marked"
    if operations and not ctx.options.dry_run:
        updated = ctx.catalog.patch_model(current["id"], operations, current["version"])
        if not _marked(ctx, updated) and not _marked(ctx, ctx.catalog.reread(current["id"])):
            result.status = "failed"
            result.message = (f"{reason}: OpenMetadata {ctx.catalog.release.version} accepted the mark but does not "
                              "hold it (read back after the write)")
        result.version_after = updated.get("version")
    return True


def _marked(ctx: Any, entity: dict[str, Any] | None) -> bool:
    """The model carries the notice (and the tag, when one is configured): the mark is stored."""
    if not entity or not str(entity.get("description") or "").startswith(NOTICE):
        return False
    tag = ctx.settings.not_in_production_tag
    return not tag or any(fqn.normalize(t.get("tagFQN", "")) == fqn.normalize(tag) for t in entity.get("tags") or [])


def delete_checked(catalog: Any, entity: dict[str, Any]) -> str | None:
    """Soft-delete a model and check the server holds it deleted; what went wrong, or None."""
    answer = catalog.delete_model(entity["id"])
    if (answer or {}).get("deleted") is True:
        return None
    held = catalog.model(entity["fullyQualifiedName"], include_deleted=True)
    if held is None or held.get("deleted") is True:
        return None
    return (f"OpenMetadata {catalog.release.version} accepted the delete of {entity['fullyQualifiedName']} but still "
            "holds it undeleted (read back after the write)")


def _mark(ctx: Any, current: dict[str, Any], reason: str) -> list[dict[str, Any]]:
    operations = []
    description = current.get("description") or ""
    if not description.startswith(NOTICE):
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        notice = f"{NOTICE} {reason} (since {today})."
        operations.append({"op": "add", "path": "/description",
                           "value": f"{notice}\n\n{description}" if description else notice})
    tag = ctx.settings.not_in_production_tag
    labels = current.get("tags") or []
    if tag and all(fqn.normalize(label.get("tagFQN", "")) != fqn.normalize(tag) for label in labels):
        if ctx.catalog.reference("tag", tag) is None:
            from mlmeta.catalog.records import CatalogError

            raise CatalogError(404, f"not_in_production_tag {tag!r} not found in OpenMetadata; create it, or change "
                                    "not_in_production_tag")
        operations.append({"op": "add", "path": "/tags", "value": [*labels, tag_label(tag, "Classification")]})
    return operations


@dataclass(frozen=True)
class Orphan:
    """A model mlmeta published whose spec is gone."""

    spec: str  # the deleted spec's path, when git knows it; else ""
    fqn: str
    entity: dict[str, Any]


def orphans(catalog: Any, services: list[str], documented: set[str],
            deleted_specs: list[tuple[str, str]] | None, default_service: str | None) -> list[Orphan]:
    """With ``deleted_specs`` (from --changed-since): the marked models those deleted files
    documented. Without: every marked model of these services that no current spec documents."""
    found = []
    if deleted_specs is not None:
        for path, text in deleted_specs:
            name = _documented_model(text, default_service)
            if name is None or name in documented:
                continue  # unreadable, or another spec documents that model now
            entity = catalog.model(name, fresh=True)
            if entity is not None and is_mlmetas(entity):
                found.append(Orphan(path, name, entity))
        return found
    for service in services:
        for entity in catalog.iter_models(service):
            if is_mlmetas(entity) and entity["fullyQualifiedName"] not in documented:
                found.append(Orphan("", entity["fullyQualifiedName"], entity))
    return found


def _documented_model(text: str, default_service: str | None) -> str | None:
    """The model FQN a (deleted) spec's text documented, or None when it cannot be read."""
    from mlmeta.spec.yamlload import YamlProblem, parse_yaml

    try:
        data = parse_yaml(text).data
    except YamlProblem:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    service = data.get("service") or data.get("serviceName") or default_service
    if not isinstance(service, str) or not service:
        return None
    try:
        return fqn.join(service, data["name"])
    except fqn.FqnError:
        return None
