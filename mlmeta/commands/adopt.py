"""``mlmeta adopt FQN...``: record this project as the owner of models mlmeta published.

Publishing a spec records its project on the model (``mlmeta.catalog.ownership``). Adoption is for the
rest, and it is always explicit: a marked model with no recorded owner - published before owners
were recorded, its spec since deleted - becomes this project's, so that ``prune`` may delete it;
a model another project owns changes hands only with ``--from OWNER`` naming that project. A
model mlmeta never published (no mark: made by hand, or by a connector) is not adopted: write a
spec for it (``mlmeta import``) and publish that.

The write is one PATCH of the model's ``extension`` (the owner property, every other property
kept), guarded by the version read, then read back. Nothing else of the model changes, so its
next publish with nothing changed still writes nothing - unless someone else wrote the model
after mlmeta did: then its fingerprint is marked incomplete in the same PATCH, since the write
makes mlmeta its last writer and would otherwise hide that edit from the next publish.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlmeta.catalog import ownership
from mlmeta.catalog.records import CatalogError
from mlmeta.errors import UsageError
from mlmeta.plan.desired import is_mlmetas
from mlmeta.commands.publish import INCOMPLETE  # as publish marks a model whose publish did not finish: the next one writes it

STATUSES = ("adopted", "unchanged", "refused", "failed")


@dataclass
class Adoption:
    model: str
    status: str  # one of STATUSES; with --dry-run, what would happen
    message: str
    owner_before: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def adopt(catalog: Any, models: list[str], project: str, *, handover_from: str | None = None,
          dry_run: bool = False) -> list[Adoption]:
    """Adopt each model (FQN) for ``project``; ``handover_from``: the owner a model may be taken from."""
    from mlmeta.catalog import provenance
    if not ownership.recorded(provenance.defined(catalog)):
        raise UsageError(f"this catalog records no owner: the {ownership.PROPERTY} custom property is not defined "
                         "on mlmodel", hint="run mlmeta setup (once per catalog), then adopt")
    return [_adopt_one(catalog, model, project, handover_from, dry_run) for model in models]


def _adopt_one(catalog: Any, model: str, project: str, handover_from: str | None, dry_run: bool) -> Adoption:
    current = catalog.model(model, fresh=True)
    if current is None:
        return Adoption(model, "failed", "not in the catalog (or deleted)")
    before = ownership.owner(current)
    refusal = _refusal(current, model, project, before, handover_from)
    if refusal is not None:
        return refusal
    if ownership.same(before, project):
        return Adoption(model, "unchanged", f"already this project's ({project})", before)
    taken = f"taken over from {before}" if before else "had no recorded owner"
    if dry_run:
        return Adoption(model, "adopted", f"would be adopted by {project} ({taken})", before)
    extension = {**(current.get("extension") or {}), ownership.PROPERTY: project}
    operations = [{"op": "add", "path": "/extension", "value": extension}]
    if current.get("updatedBy") != catalog.user:  # keep "someone else wrote it" visible to the next publish
        operations.append({"op": "add", "path": "/sourceHash", "value": INCOMPLETE})
    try:
        catalog.patch_model(current["id"], operations, current.get("version"))
    except CatalogError as error:
        return Adoption(model, "failed", f"OpenMetadata refused the write: {error.message}", before)
    held = catalog.reread(current["id"])
    if not ownership.same(ownership.owner(held), project):
        return Adoption(model, "failed", f"OpenMetadata {catalog.release.version} accepted the write but does not "
                                         "hold the owner (read back after the write)", before)
    return Adoption(model, "adopted", f"adopted by {project} ({taken})", before)


def _refusal(current: dict[str, Any], model: str, project: str, before: str | None,
             handover_from: str | None) -> Adoption | None:
    """Why this model is not adopted, or None."""
    if before is None and not is_mlmetas(current):
        why = ("OpenMetadata's MLflow connector ingested it" if ownership.by_connector(current)
               else "it carries no mlmeta mark")
        return Adoption(model, "refused", f"not published by mlmeta ({why}): write a spec for it with mlmeta import "
                                          f"{model}, then publish it", before)
    if before is not None and not ownership.same(before, project) and not ownership.same(before, handover_from):
        named = f" (--from names {handover_from!r})" if handover_from else ""
        return Adoption(model, "refused", f"it belongs to project {before!r}{named}: taking it over needs "
                                          f"--from {before}, once its team agrees", before)
    return None
