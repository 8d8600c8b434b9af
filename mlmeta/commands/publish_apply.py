"""One model's writes in a ``publish``: create it or PATCH the difference (If-Match on the version
read), bring its lineage in line, and read back what the server may not have stored; in a ``plan``,
the same steps say what would be written. A model another project owns is left alone (O001).
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from mlmeta.catalog import ownership
from mlmeta.catalog.records import CatalogError, Edge, Ref
from mlmeta.catalog.resolve import service_hint
from mlmeta.commands import retire
from mlmeta.commands.publish_saved import expect
from mlmeta.commands.publish_types import INCOMPLETE, Context, Failed, ModelResult
from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.plan import lineage, verify
from mlmeta.plan.desired import FEATURE_SOURCE, Desired, WantedEdge
from mlmeta.plan.diff import Change, ModelDiff, diff
from mlmeta.spec.load import LoadedSpec

log = logging.getLogger("mlmeta.publish")


def untouched(ctx: Context, current: dict[str, Any] | None, stamp: str) -> bool:
    """Our last publish had these very inputs, nobody wrote to the entity since, and it is not
    marked as out of production (a promotion back to the same version must unmark it)."""
    return (current is not None and not ctx.options.refresh and current.get("sourceHash") == stamp
            and current.get("updatedBy") is not None and current.get("updatedBy") == ctx.catalog.user
            and not str(current.get("description") or "").startswith(retire.NOTICE)
            and (not ctx.records_owner or ownership.standing(current, ctx.project) == ownership.MINE))


def check_claim(ctx: Context, loaded: LoadedSpec, current: dict[str, Any] | None, result: ModelResult) -> None:
    """A model another project owns is left alone (O001: nothing is written). One OpenMetadata's
    MLflow connector wrote last is taken over, with a warning (O002): the connector will write
    its fields back on its next run."""
    if current is None:
        return
    if ownership.standing(current, ctx.project) == ownership.OTHERS:
        raise Failed(loaded.diagnostic(("name",), "O001", ownership.claimed_elsewhere(
            result.model, ownership.owner(current), ctx.project)))
    if ownership.by_connector(current) and not any(d.code == "O002" for d in result.diagnostics):
        verb = "would take" if ctx.options.dry_run else "takes"
        result.diagnostics.append(loaded.diagnostic(("name",), "O002", (
            f"{result.model} was written last by OpenMetadata's MLflow connector; publish {verb} it over, and the "
            "connector's next run writes its algorithm, features, hyperparameters, ML store and source URL back: "
            "exclude the registered model from the connector (mlModelFilterPattern), or publish into another "
            "service"), severity=Severity.WARNING))


def confirm(ctx: Context, loaded: LoadedSpec, current: dict[str, Any], result: ModelResult,
             desired: Desired | None) -> None:
    """The entity is as we published it. Its lineage is trusted too (mlmeta drew it with that
    publish; a hand-deleted edge is drift, for ``mlmeta drift`` or ``--refresh``) - unless our own
    write (a PATCH or a POST, of ``desired``) landed in this very run with its answer lost, when the
    lineage step is still to do."""
    result.version_after = current.get("version")
    if result.version_before is None and not result.created_before_answer:
        result.version_before = result.version_after
    lineage_changed = False
    if (result.patch_may_have_landed or result.created_before_answer) and desired is not None:
        lineage_changed = _sync_lineage(ctx, desired, current, result, loaded)
    # only our own write carries this stamp: finding it means the write whose answer was lost landed
    _settle(result, changed=result.patch_may_have_landed or lineage_changed)


def _settle(result: ModelResult, *, changed: bool) -> None:
    result.status = "updated" if changed else "unchanged"
    if result.created_before_answer:
        result.status = "created"  # the answer to our POST was lost; the model found is the one it made


def _sync_lineage(ctx: Context, desired: Desired, model: dict[str, Any], result: ModelResult,
                  loaded: LoadedSpec) -> bool:
    """Bring the model's edges in line with the spec - upstream from its sources, labels and
    training data, downstream to its outputs - and check they hold; True when something was (or
    would be) done."""
    return _apply_lineage(ctx, desired, model, result, loaded, _lineage_plan(ctx, desired, result, loaded))


def _lineage_plan(ctx: Context, desired: Desired, result: ModelResult,
                  loaded: LoadedSpec) -> tuple[lineage.LineagePlan, lineage.LineagePlan]:
    """Which edges to draw and erase, upstream and downstream (shown in ``result``, held to a saved plan)."""
    edges = ctx.catalog.edges(result.model)
    result.columns_added, result.columns_removed = [], []  # counted anew when a conflict made us plan again
    upstream = lineage.plan(result.model, desired.edges, edges)
    downstream = lineage.plan(result.model, desired.outputs, edges, downstream=True)
    result.lineage_added = [w.source.fqn for w in upstream.add]
    result.lineage_updated = [w.source.fqn for w in upstream.update]
    result.lineage_removed = [e.asset_fqn for e in upstream.remove]
    result.outputs_added = [w.source.fqn for w in downstream.add]
    result.outputs_updated = [w.source.fqn for w in downstream.update]
    result.outputs_removed = [e.asset_fqn for e in downstream.remove]
    _show_columns(result, upstream.add + upstream.update + downstream.add + downstream.update)
    stored = {(e.asset_id, e.downstream): e for e in edges}
    for wanted in upstream.add + upstream.update + downstream.add + downstream.update:
        before = stored.get((wanted.source.id, wanted.downstream))
        _count_pairs(result, lineage.stored_columns(before) if before else (), wanted.columns)
    for edge in upstream.remove + downstream.remove:
        _count_pairs(result, lineage.stored_columns(edge), ())
    expect(ctx, loaded, result, "lineage", _lineage_writes(result.model, upstream.add + upstream.update
                                                            + downstream.add + downstream.update,
                                                            upstream.remove + downstream.remove))
    return upstream, downstream


def _apply_lineage(ctx: Context, desired: Desired, model: dict[str, Any], result: ModelResult, loaded: LoadedSpec,
                   planned: tuple[lineage.LineagePlan, lineage.LineagePlan]) -> bool:
    upstream, downstream = planned
    changed = not (upstream.empty and downstream.empty)
    if not ctx.options.dry_run and changed:
        me = _model_ref(model, result.model)
        calls = [partial(_draw, ctx, me, wanted) for wanted in
                 upstream.add + upstream.update + downstream.add + downstream.update]
        calls += [partial(_erase, ctx, me, edge) for edge in upstream.remove + downstream.remove]
        result.written = True
        ctx.in_parallel(calls)
        _confirm_edges(ctx, loaded, desired, me)
    return changed


def _lineage_writes(model_fqn: str, draw: list[WantedEdge], erase: list[Edge]) -> dict[str, Any] | None:
    """The lineage writes as a saved plan holds them: each edge drawn with its details, each erased
    (None: none - whether the run looked at the edges or trusted them unchanged)."""
    if not (draw or erase):
        return None
    return {"draw": [{"asset": w.source.as_json(), "downstream": w.downstream,
                      "details": lineage.details(model_fqn, w)} for w in draw],
            "erase": [{"asset": {"id": e.asset_id, "type": e.asset_type, "fullyQualifiedName": e.asset_fqn},
                       "downstream": e.downstream} for e in erase]}


def _count_pairs(result: ModelResult, before: tuple, after: tuple) -> None:
    """The column-level pairs (fromColumn, toColumn) an edge's redrawing adds and takes away."""
    def pairs(columns: tuple) -> set[tuple[str, str]]:
        return {(source, target) for target, sources in columns for source in sources}

    result.columns_added += sorted(pairs(after) - pairs(before))
    result.columns_removed += sorted(pairs(before) - pairs(after))


def _model_ref(model: dict[str, Any], model_fqn: str) -> Ref:
    return Ref(model["id"], "mlmodel", model.get("name") or model_fqn, model_fqn)


def _draw(ctx: Context, model: Ref, wanted: WantedEdge) -> None:
    """Draw (or redraw) one edge: into the model from an asset, or from the model to an output."""
    ends = (model, wanted.source) if wanted.downstream else (wanted.source, model)
    ctx.catalog.add_edge(*ends, lineage.details(model.fqn, wanted))


def _erase(ctx: Context, model: Ref, edge: Edge) -> None:
    ends = ((model.type, model.id), (edge.asset_type, edge.asset_id))
    ctx.catalog.delete_edge(*(ends if edge.downstream else ends[::-1]))


def _show_columns(result: ModelResult, edges: list[WantedEdge]) -> None:
    result.lineage_columns = {w.source.fqn: w.columns_lineage() for w in edges if w.columns}
    result.lineage_roles = {w.source.fqn: list(w.roles) for w in edges if w.roles != (FEATURE_SOURCE,)}


def create_model(ctx: Context, loaded: LoadedSpec, desired: Desired, result: ModelResult) -> bool:
    """True when done; False to start over (someone created it meanwhile, or it was deleted)."""
    new_service = _service_to_create(ctx, loaded, desired.service)  # before any diff: a failure shows none
    request = desired.create_request()
    # the server draws a plain edge from each feature source: the rest are mlmeta's to draw - the ones
    # with a column-level mapping or more to say (label sources, training data), and the outputs
    to_draw = [wanted for wanted in desired.edges if not wanted.drawn_at_create] + desired.outputs
    expect(ctx, loaded, result, "service", new_service)
    expect(ctx, loaded, result, "create", request)
    expect(ctx, loaded, result, "lineage", _lineage_writes(result.model, to_draw, []))
    result.changes = diff({}, desired).changes
    if new_service:
        result.changes.insert(0, Change("service", "added", f"ML model service {new_service!r} created first "
                                                              "(--create-service)", None, new_service))
    result.lineage_added = [w.source.fqn for w in desired.edges]
    result.outputs_added = [w.source.fqn for w in desired.outputs]
    _show_columns(result, desired.edges + desired.outputs)
    result.columns_added, result.columns_removed = [], []  # counted anew when a conflict made us plan again
    for wanted in desired.edges + desired.outputs:
        _count_pairs(result, (), wanted.columns)
    result.status = "created"
    if ctx.options.dry_run:
        return True
    if new_service:
        result.written = True
        ctx.catalog.create_service(new_service, ctx.settings.registry_address, ctx.settings.registry)
    try:
        created = ctx.catalog.create_model(request)
    except CatalogError as error:
        if error.status == 409:
            if ctx.options.expected is not None:
                return False  # created by someone since the plan's check: the plan does not hold
            result.created_before_answer = error.retried
            _restore_if_deleted(ctx, loaded, result)
            return False
        if error.status == 404 and "mlmodelService instance" in error.message:  # deleted since it was looked up
            if not ctx.options.create_service or ctx.options.expected is not None:
                raise Failed(_missing_service(ctx, loaded, desired.service)) from None
            ctx.catalog.create_service(desired.service, ctx.settings.registry_address, ctx.settings.registry)
            return False
        raise Failed(_server_diagnostic(loaded, error)) from None
    result.written = True
    if verify.unheld(created, desired, desired.fields):
        _confirm_held(ctx, loaded, created, desired, list(desired.fields), "create", "the answer differs")
    result.version_after = created.get("version")
    me = _model_ref(created, result.model)
    try:
        ctx.in_parallel([partial(_draw, ctx, me, wanted) for wanted in to_draw])
    except CatalogError:
        _mark_incomplete(ctx, created)
        raise
    if to_draw:
        _confirm_edges(ctx, loaded, desired, me)
    return True


def _confirm_held(ctx: Context, loaded: LoadedSpec, written_to: dict[str, Any], desired: Desired, fields: list[str],
                  write: str, why: str) -> dict[str, Any]:
    """Read the model back after a write whose answer does not prove it stored ``fields``; a field
    the server does not hold fails the spec, and the model is marked so no run trusts it."""
    release = ctx.catalog.release
    log.debug("reading %s back after its %s: %s", desired.fqn, write, why)
    held = ctx.catalog.reread(written_to["id"])
    missing = verify.unheld(held, desired, fields)
    if not missing:
        return held
    _mark_incomplete(ctx, held or written_to)
    known = (" - a known bug of this release when a PATCH carries If-Match (issue 28876), which mlmeta sends "
             "none of here: please report it" if release.has("if_match_drops_entity_fields") else
             f" - OpenMetadata {release.version} is not known to do this: please report it")
    raise Failed(loaded.diagnostic(("name",), "P002", (
        f"OpenMetadata {release.version} accepted the {write} of {desired.fqn} but does not hold "
        f"{', '.join(missing)} (read back after the write); mlmeta marked the model incomplete, so the next "
        f"publish writes it again{known}")))


def _confirm_edges(ctx: Context, loaded: LoadedSpec, desired: Desired, model: Ref) -> None:
    """Read the model's lineage back after writing edges: what is still to do was not stored."""
    edges = ctx.catalog.edges(model.fqn)
    upstream = lineage.plan(model.fqn, desired.edges, edges)
    downstream = lineage.plan(model.fqn, desired.outputs, edges, downstream=True)
    if upstream.empty and downstream.empty:
        return
    _mark_incomplete(ctx, {"id": model.id})
    left = [f"from {w.source.fqn}" for w in upstream.add + upstream.update]
    left += [f"from {e.asset_fqn}" for e in upstream.remove]
    left += [f"to {w.source.fqn}" for w in downstream.add + downstream.update]
    left += [f"to {e.asset_fqn}" for e in downstream.remove]
    raise Failed(loaded.diagnostic(("name",), "P002", (
        f"OpenMetadata {ctx.catalog.release.version} accepted the lineage writes of {model.fqn} but "
        f"does not hold the edges {', '.join(left)} as written (read back after the writes); mlmeta marked the "
        "model incomplete, so the next publish draws them again")))


def _mark_incomplete(ctx: Context, model: dict[str, Any]) -> None:
    """The model may carry the fingerprint of a complete publish while part of it did not land:
    make the next run take the full path (which writes it again) instead of trusting it. Sent
    unguarded - it is mlmeta's own bookkeeping, and a guarded PATCH is what some releases drop.
    Best effort: a server that refuses this too leaves it to ``drift`` and ``--refresh``."""
    try:
        ctx.catalog.patch_model(model["id"], [{"op": "add", "path": "/sourceHash", "value": INCOMPLETE}], None)
    except CatalogError:
        pass



def _service_to_create(ctx: Context, loaded: LoadedSpec, service: str) -> str | None:
    """The ML model service a new model goes in, when it is missing and the run may create it
    (--create-service); missing otherwise, the spec fails - before any diff is shown."""
    if ctx.catalog.reference("mlmodelService", service) is not None:
        return None
    if not ctx.options.create_service:
        raise Failed(_missing_service(ctx, loaded, service))
    return service


def _missing_service(ctx: Context, loaded: LoadedSpec, service: str) -> Diagnostic:
    loc = ("service",) if loaded.spec.service else ("name",)
    return loaded.diagnostic(loc, "R008", f"ML model service {service!r} not found in OpenMetadata"
                                          f"{service_hint(ctx.catalog, service)}; create it, or rerun with "
                                          "--create-service")


def _restore_if_deleted(ctx: Context, loaded: LoadedSpec, result: ModelResult) -> None:
    """A soft-deleted model of the spec comes back - unless another project owns it (O001)."""
    existing = ctx.catalog.model(result.model, include_deleted=True)
    if existing is not None and existing.get("deleted"):
        check_claim(ctx, loaded, existing, result)
        ctx.catalog.restore_model(existing["id"])


def update_model(ctx: Context, loaded: LoadedSpec, current: dict[str, Any], desired: Desired, result: ModelResult) -> bool:
    """True when done; False to start over (the entity changed or vanished since it was read)."""
    changes = diff(current, desired)
    if result.version_before is None:  # the version before this run, not before a retry
        result.version_before = current.get("version")
    result.version_after = current.get("version")
    expect(ctx, loaded, result, "patch", None if changes.empty else {"version": current.get("version"),
                                                                      "operations": changes.operations})
    edges = _lineage_plan(ctx, desired, result, loaded)  # held to a saved plan before the PATCH, too
    result.changes = changes.changes
    if not changes.empty and not ctx.options.dry_run:
        try:
            updated = ctx.catalog.patch_model(current["id"], changes.operations, current["version"])
        except CatalogError as error:
            if error.status in (412, 404):
                # a retried PATCH meeting 412: its first try may have landed (the answer was lost)
                result.patch_may_have_landed |= error.status == 412 and error.retried
                return False
            raise Failed(_server_diagnostic(loaded, error)) from None
        result.written = True
        written = [operation["path"][1:] for operation in changes.operations]
        why = verify.why_read_back(current, updated, desired, written, release=ctx.catalog.release,
                                   guarded_by_if_match=ctx.catalog.locks_with_if_match, user=ctx.catalog.user)
        if why is not None:
            updated = _confirm_held(ctx, loaded, current, desired, written, "PATCH", why)
        result.version_after = updated.get("version")
    lineage_changed = _apply_lineage(ctx, desired, current, result, loaded, edges)
    _settle_update(ctx, result, changes, lineage_changed)
    return True


def _settle_update(ctx: Context, result: ModelResult, changes: ModelDiff, lineage_changed: bool) -> None:
    """A patch of the fingerprint alone (the spec's text changed, not what it says) changes nothing
    anyone reads (from 1.11.9 the server keeps the version): the model is unchanged, and the
    reason is said."""
    fingerprint_only = changes.fingerprint_only and not lineage_changed
    _settle(result, changed=not (changes.empty or fingerprint_only))
    if fingerprint_only and result.status == "unchanged":
        written = "would be written" if ctx.options.dry_run else "written"
        version = ("the version moves by 0.1 on this release" if ctx.catalog.release.has("source_hash_bumps_version")
                   else "no new version")
        result.message = (f"fingerprint only: the spec's text changed, the catalog already holds what it says "
                          f"(the new fingerprint {written}, {version})")


_NOT_FOUND = re.compile(r"(\w+) instance for (.+?) not found")


def _server_diagnostic(loaded: LoadedSpec, error: CatalogError) -> Diagnostic:
    """Point a server's refusal at the spec line that caused it, when it names something there."""
    spec, loc = loaded.spec, ("name",)
    match = _NOT_FOUND.search(error.message)
    if match:
        kind, key = match.groups()
        candidates: list[tuple[tuple, str | None]] = [(("tags", i), t) for i, t in enumerate(spec.tags or [])]
        candidates += [(("glossary_terms", i), t) for i, t in enumerate(spec.glossary_terms or [])]
        candidates += [(("features", i, "tags", k), t) for i, f in enumerate(spec.features)
                       for k, t in enumerate(f.tags or [])]
        candidates += [(("dashboard",), spec.dashboard), (("domain",), spec.domain)]
        loc = next((where for where, value in candidates if value == key), loc)
