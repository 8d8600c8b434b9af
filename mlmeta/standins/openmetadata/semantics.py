"""How the OpenMetadata server creates and updates ML models, restated in Python.

Modelled on the server's ``EntityRepository.EntityUpdater`` and ``MlModelRepository`` (the newest
stored sources; see docs/compatibility.md for what could not be checked against a 2.0.x server):

* create: service, dashboard, owners, tags, domains and every feature source's dataSource must
  exist and not be deleted (404 otherwise); FQNs are computed (``service.model``,
  ``model.feature``, ``dataSourceFQN.source``); an UPSTREAM lineage edge is added from every
  feature source's entity to the model, without lineage details (on create only);
* update (PUT and PATCH): each field is compared and recorded as added/updated/deleted; no
  change keeps version, updatedAt and updatedBy; a change bumps the version by 0.1, a change of
  algorithm, server or target by 1.0; a sourceHash or lifeCycle change is stored without a bump
  but stamps updatedAt/updatedBy (from 1.11.9; earlier a sourceHash change moves it by 0.1); features and hyperparameters compare as unordered lists of
  deep-equal items; a write's answer carries that request's own changeDescription;
* PUT by a bot keeps a non-empty description (model and feature), non-empty domains, extension
  and dataProducts; PUT merges tags and keeps owners when it sends none; PATCH has none of these
  limits;
* PATCHes by the same user within the session timeout (10 minutes) consolidate into one
  version, unless the request carried If-Match (optimistic locking).

Where releases differ, ``state.release`` (or ``Update.release``) says which behaviour applies:
one ``domain`` up to 1.8; a sourceHash-only change moving the version up to 1.11.8; the base
updater alone for an If-Match PATCH on 1.9.0 to 1.13.1 (issue 28876, ``_base_updater_only``).

Everything works on plain dicts shaped like the entity JSON.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.catalog.releases import Capabilities
from mlmeta.standins.openmetadata.store import NotFound, State, now_ms

SESSION_TIMEOUT_MS = 10 * 60 * 1000
MAJOR_FIELDS = ("algorithm", "server", "target")
# fields a GET returns only when asked for with ?fields= (the rest always come back)
FIELD_CONTROLLED = ("owners", "followers", "tags", "domains", "dataProducts", "votes", "extension", "usageSummary",
                    "dashboard", "lifeCycle", "certification", "sourceHash")


class ApiError(Exception):
    """An HTTP error answer: status, the server's message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def not_found(error: NotFound) -> ApiError:
    return ApiError(404, str(error))


def canonical(value: Any) -> Any:
    """Drop nulls and empty lists/maps so ``{"tags": []}`` equals ``{}`` - the server's generated
    classes default those to empty, and absent vs empty never differs in its comparisons."""
    if isinstance(value, dict):
        result = {k: canonical(v) for k, v in value.items()}
        return {k: v for k, v in result.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def same(left: Any, right: Any) -> bool:
    return canonical(left) == canonical(right)


def _without_nulls(value: Any) -> Any:
    """Nulls dropped, empty lists kept: how two list items compare inside the server's lists."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _json(value: Any) -> Any:
    """A FieldChange value as the server writes it: strings and booleans as they are, the rest as JSON text."""
    return value if isinstance(value, (str, bool)) else json.dumps(value, sort_keys=True)


@dataclass
class Changes:
    """The server's ChangeDescription, plus whether the version must move and how far."""

    added: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)
    deleted: list[dict] = field(default_factory=list)
    major: bool = False
    bumps: bool = False
    stored: bool = False  # something changed, version bump or not

    def record(self, name: str, old: Any, new: Any, *, major: bool = False, bump: bool = True) -> bool:
        if same(old, new):
            return False
        if canonical(old) in (None, "", [], {}):
            self.added.append({"name": name, "newValue": _json(new)})
        elif canonical(new) in (None, "", [], {}):
            self.deleted.append({"name": name, "oldValue": _json(old)})
        else:
            self.updated.append({"name": name, "oldValue": _json(old), "newValue": _json(new)})
        self._note(major, bump)
        return True

    def record_refs(self, name: str, old: list | None, new: list | None) -> bool:
        """A list of entity references: the added and removed ones, as full references."""
        old_ids, new_ids = set(_ids(old)), set(_ids(new))
        return self._record_items(name, [r for r in new or [] if r and r["id"] not in old_ids],
                                  [r for r in old or [] if r and r["id"] not in new_ids])

    def record_list(self, name: str, old: list | None, new: list | None) -> bool:
        """Unordered lists of deep-equal items; inside an item, [] and absent differ (Java equals)."""
        old_items = [_without_nulls(x) for x in old or []]
        new_items = [_without_nulls(x) for x in new or []]
        return self._record_items(name, [x for x in new_items if x not in old_items],
                                  [x for x in old_items if x not in new_items])

    def _record_items(self, name: str, added: list, deleted: list) -> bool:
        if added:
            self.added.append({"name": name, "newValue": _json(added)})
        if deleted:
            self.deleted.append({"name": name, "oldValue": _json(deleted)})
        if added or deleted:
            self._note(False, True)
        return bool(added or deleted)

    def _note(self, major: bool, bump: bool) -> None:
        self.stored = True
        self.bumps = self.bumps or bump
        self.major = self.major or major

    def description(self, previous: float) -> dict[str, Any]:
        return {"fieldsAdded": self.added, "fieldsUpdated": self.updated, "fieldsDeleted": self.deleted,
                "previousVersion": previous}


def next_version(current: float, changes: Changes) -> float:
    if changes.major:
        return round(current + 1.0, 1)
    return round(current + 0.1, 1) if changes.bumps else current


# --- references ---------------------------------------------------------------------------------


def resolve_tags(state: State, labels: list[dict] | None) -> list[dict]:
    """Tag labels as the server returns them, checking each tag exists and exclusivity holds."""
    result, exclusive_seen = [], {}
    for label in labels or []:
        kind = "glossaryTerm" if label.get("source") == "Glossary" else "tag"
        try:
            tag = state.by_name(kind, label["tagFQN"])
        except NotFound as error:
            raise not_found(error) from None
        parent_kind = "glossary" if kind == "glossaryTerm" else "classification"
        parent_fqn = fqn.join(*fqn.split(tag["fullyQualifiedName"])[:-1])
        parent = state.by_name(parent_kind, parent_fqn, include_deleted=True)
        if parent.get("mutuallyExclusive"):
            if parent_fqn in exclusive_seen:
                raise ApiError(400, f"Tag labels {exclusive_seen[parent_fqn]} and {label['tagFQN']} are mutually "
                                    "exclusive and can't be assigned together")
            exclusive_seen[parent_fqn] = label["tagFQN"]
        resolved = {"tagFQN": tag["fullyQualifiedName"], "name": tag["name"], "description": tag.get("description"),
                    "source": label.get("source", "Classification"), "labelType": label.get("labelType", "Manual"),
                    "state": label.get("state", "Confirmed")}
        if resolved not in result:
            result.append(resolved)
    return result


def resolve_ref(state: State, ref: dict | None) -> dict | None:
    if ref is None:
        return None
    try:
        return state.reference(ref["type"], state.by_id(ref["type"], ref["id"]))
    except NotFound as error:
        raise not_found(error) from None


def resolve_name(state: State, kind: str, name: str | None) -> dict | None:
    if name is None:
        return None
    try:
        return state.reference(kind, state.by_name(kind, name))
    except NotFound as error:
        raise not_found(error) from None


def prepare(state: State, model: dict[str, Any]) -> None:
    """Validate references and compute FQNs, as the server's ``prepare`` does before any write."""
    try:
        _prepare(state, model)
    except fqn.FqnError:  # a name that cannot round-trip through an FQN (validateFqnName)
        raise ApiError(400, f"Invalid name {_bad_name(model)}") from None


def _bad_name(model: dict[str, Any]) -> str:
    names = [model.get("name")] + [f.get("name") for f in model.get("mlFeatures") or []] + [
        s.get("name") for f in model.get("mlFeatures") or [] for s in f.get("featureSources") or []]
    return next((n for n in names if isinstance(n, str) and '"' in n), str(model.get("name")))


def _prepare(state: State, model: dict[str, Any]) -> None:
    try:
        service = state.by_name("mlmodelService", model["service"]["fullyQualifiedName"])
    except NotFound as error:
        raise not_found(error) from None
    model["service"] = state.reference("mlmodelService", service)
    model["serviceType"] = service["serviceType"]
    model["fullyQualifiedName"] = fqn.join(service["fullyQualifiedName"], model["name"])
    for feature in model.get("mlFeatures") or []:
        feature["fullyQualifiedName"] = f"{model['fullyQualifiedName']}.{fqn.quote(feature['name'])}"
        feature["tags"] = resolve_tags(state, feature.get("tags")) if feature.get("tags") else feature.get("tags")
        for source in feature.get("featureSources") or []:
            data_source = source.get("dataSource")
            if data_source is not None:
                resolve_ref(state, data_source)  # must exist, not deleted; the reference is kept as sent
                source["fullyQualifiedName"] = f"{data_source.get('fullyQualifiedName')}.{fqn.quote(source['name'])}"
            else:
                source["fullyQualifiedName"] = source.get("name")
    model["tags"] = resolve_tags(state, model.get("tags"))
    model["owners"] = [resolve_ref(state, o) for o in model.get("owners") or []]
    for key in ("dashboard", "domain"):
        if model.get(key) is not None:
            model[key] = resolve_ref(state, model[key])
    if model.get("domains"):
        model["domains"] = [resolve_ref(state, d) for d in model["domains"]]


def from_create_request(state: State, request: dict[str, Any]) -> dict[str, Any]:
    """The entity a CreateMlModelRequest describes (before ids, version and timestamps)."""
    model = {k: copy.deepcopy(v) for k, v in request.items()
             if k not in ("service", "dashboard", "domain", "domains", "dataProducts")}
    model["service"] = {"type": "mlmodelService", "fullyQualifiedName": request["service"]}
    model["dashboard"] = resolve_name(state, "dashboard", request.get("dashboard"))
    if state.release.has("domains"):
        model["domains"] = [resolve_name(state, "domain", d) for d in request.get("domains") or []]
    else:  # up to 1.8: one domain, by FQN
        model["domain"] = resolve_name(state, "domain", request.get("domain"))
    model["dataProducts"] = [resolve_name(state, "dataProduct", d) for d in request.get("dataProducts") or []]
    return model


# --- create -------------------------------------------------------------------------------------


def create(state: State, request: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    model = from_create_request(state, request)
    prepare(state, model)
    model.update(id=str(uuid.uuid4()), version=0.1, updatedAt=now_ms(), updatedBy=user["name"], deleted=False,
                 followers=[], votes={"upVotes": 0, "downVotes": 0, "upVoters": [], "downVoters": []})
    state.put("mlmodel", model)
    add_feature_lineage(state, model)
    return model


def add_feature_lineage(state: State, model: dict[str, Any]) -> None:
    """``setMlFeatureSourcesLineage``: an UPSTREAM relationship per dataSource, no lineage details."""
    for feature in model.get("mlFeatures") or []:
        for source in feature.get("featureSources") or []:
            ref = source.get("dataSource")
            if ref is not None:
                state.edges.setdefault(f"{ref['id']}:{model['id']}",
                                       {"fromType": ref["type"], "toType": "mlmodel", "details": None})


# --- update -------------------------------------------------------------------------------------


@dataclass
class Update:
    operation: str  # "PUT" or "PATCH"
    user: dict[str, Any]
    release: Capabilities
    optimistic: bool = False  # the request carried If-Match, and the release honours it

    @property
    def bot_put(self) -> bool:
        return self.operation == "PUT" and bool(self.user.get("isBot"))

    @property
    def base_updater_only(self) -> bool:
        """Issue 28876: an optimistic PATCH ran EntityUpdater, not MlModelUpdater (1.9.0 to 1.13.1)."""
        return self.optimistic and self.release.has("if_match_drops_entity_fields")


def update(state: State, original: dict[str, Any], updated: dict[str, Any], how: Update
           ) -> tuple[dict, str, dict]:
    """Apply ``updated`` over ``original``: the stored entity, the change type header, and this
    request's own (incremental) changeDescription, which a PUT or PATCH answer carries."""
    now = now_ms()
    base = original
    if _consolidates(state, original, updated, how, now):
        base = _previous_version(state, original)
    changes = Changes()
    result = copy.deepcopy(updated)
    for key in ("id", "fullyQualifiedName", "service", "serviceType", "href", "followers", "votes", "usageSummary"):
        if key in original:
            result[key] = copy.deepcopy(original[key])
    _update_common(base, result, how, changes)
    if how.base_updater_only:
        return _base_updater_only(state, original, result, how, changes, now)
    _update_mlmodel(base, result, how, changes)
    incremental = _incremental(original, updated, how)
    if not changes.stored:
        if base is not original:  # consolidation found the PATCH undoes the last version
            return _revert_to(state, original, base), "entityUpdated", incremental
        return original, "entityNoChange", incremental
    version = next_version(base["version"], changes)
    if version == base["version"]:
        # only changes that move no version (sourceHash, lifeCycle): stored, and the entity counts
        # as changed - a new updatedAt and updatedBy - under the same version
        result.update(version=original["version"], updatedAt=now, updatedBy=how.user["name"],
                      changeDescription=original.get("changeDescription"))
        state.put("mlmodel", result)
        return result, "entityUpdated", incremental
    if base is original:
        state.history.setdefault(original["id"], []).append(copy.deepcopy(original))
    result.update(version=version, updatedAt=now, updatedBy=how.user["name"],
                  changeDescription=changes.description(base["version"]))
    state.put("mlmodel", result)
    return result, "entityUpdated", incremental


def _base_updater_only(state: State, original: dict, result: dict, how: Update, changes: Changes, now: int
                       ) -> tuple[dict, str, dict]:
    """What 1.9.0 to 1.13.1 did with an If-Match PATCH (issue 28876, PR 28837): the base updater
    compared the top-level fields only. With none of them changed, nothing was stored, and the
    answer echoed the patched entity at the old version, ``entityNoChange``, an empty change
    description. With one changed, the patched JSON was stored as a minor version - the ML-model
    fields with it, but not the dashboard (a relationship only MlModelUpdater writes), and no
    major bump for algorithm, server or target."""
    empty = Changes().description(original["version"])
    if not changes.stored:
        echoed = {**result, "version": original["version"], "updatedAt": original.get("updatedAt"),
                  "updatedBy": original.get("updatedBy"), "changeDescription": empty}
        return echoed, "entityNoChange", empty
    result["dashboard"] = copy.deepcopy(original.get("dashboard"))
    state.history.setdefault(original["id"], []).append(copy.deepcopy(original))
    result.update(version=round(original["version"] + 0.1, 1), updatedAt=now, updatedBy=how.user["name"],
                  changeDescription=changes.description(original["version"]))
    state.put("mlmodel", result)
    return result, "entityUpdated", changes.description(original["version"])


def _incremental(original: dict, updated: dict, how: Update) -> dict:
    """What this one request changed, against the entity it found (not a consolidated base)."""
    changes = Changes()
    probe = copy.deepcopy(updated)
    _update_common(original, probe, how, changes)
    _update_mlmodel(original, probe, how, changes)
    return changes.description(original["version"])


def _consolidates(state: State, original: dict, updated: dict, how: Update, now: int) -> bool:
    changes = original.get("changeDescription") or {}
    return (not how.optimistic and how.operation == "PATCH" and original["name"] == updated.get("name")
            and changes.get("previousVersion") is not None and original["version"] > 0.1
            and not original.get("deleted") and original.get("updatedBy") == how.user["name"]
            and now - original.get("updatedAt", 0) <= SESSION_TIMEOUT_MS
            and bool(state.history.get(original["id"])))


def _previous_version(state: State, original: dict) -> dict:
    return state.history[original["id"]][-1]


def _revert_to(state: State, original: dict, base: dict) -> dict:
    state.history[original["id"]].pop()
    restored = copy.deepcopy(base)
    state.put("mlmodel", restored)
    return restored


def _update_common(original: dict, updated: dict, how: Update, changes: Changes) -> None:
    if how.operation in ("PUT", "PATCH") and updated.get("deleted") and not original.get("deleted"):
        raise ApiError(400, "Field deleted is read-only and can only be changed through delete and restore")
    changes.record("deleted", bool(original.get("deleted")), bool(updated.get("deleted")))
    if how.bot_put and original.get("description"):
        updated["description"] = original["description"]  # bots cannot overwrite descriptions with PUT
    changes.record("description", original.get("description"), updated.get("description"))
    changes.record("displayName", original.get("displayName"), updated.get("displayName"))
    if how.operation == "PUT" and original.get("owners") and not updated.get("owners"):
        updated["owners"] = original["owners"]  # PUT never removes owners
    changes.record_refs("owners", original.get("owners"), updated.get("owners"))
    if how.operation == "PUT":
        updated["tags"] = _merge_tags(original.get("tags"), updated.get("tags"))
    changes.record_list("tags", original.get("tags"), updated.get("tags"))
    domains = "domains" if how.release.has("domains") else "domain"  # one reference up to 1.8
    if how.operation == "PUT" and original.get(domains) and (how.bot_put or not updated.get(domains)):
        updated[domains] = original[domains]
    if domains == "domains":
        changes.record_refs("domains", original.get("domains"), updated.get("domains"))
    else:
        changes.record("domain", original.get("domain"), updated.get("domain"))
    if how.bot_put:  # a bot's PUT keeps what people curated there
        for key in ("extension", "dataProducts"):
            if original.get(key):
                updated[key] = original[key]
    changes.record("extension", original.get("extension"), updated.get("extension"))
    changes.record_refs("dataProducts", original.get("dataProducts"), updated.get("dataProducts"))
    changes.record("lifeCycle", original.get("lifeCycle"), updated.get("lifeCycle"), bump=False)


def _update_mlmodel(original: dict, updated: dict, how: Update, changes: Changes) -> None:
    if updated.get("algorithm") is not None:
        changes.record("algorithm", original.get("algorithm"), updated["algorithm"], major=True)
    else:
        updated["algorithm"] = original.get("algorithm")
    changes.record("dashboard", _ids([original.get("dashboard")]), _ids([updated.get("dashboard")]))
    changes.record_list("mlFeatures", original.get("mlFeatures"), updated.get("mlFeatures"))
    stored = {f["name"]: f for f in original.get("mlFeatures") or []}
    for feature in updated.get("mlFeatures") or []:
        before = stored.get(feature["name"])
        if before is None:
            continue
        # recorded above on the whole list; the server then restores what a bot may not change
        if how.bot_put and before.get("description"):
            feature["description"] = before["description"]
        if how.operation == "PUT":
            feature["tags"] = _merge_tags(before.get("tags"), feature.get("tags"))
    changes.record_list("mlHyperParameters", original.get("mlHyperParameters"), updated.get("mlHyperParameters"))
    changes.record("mlStore", original.get("mlStore"), updated.get("mlStore"))
    changes.record("server", original.get("server"), updated.get("server"), major=True)
    changes.record("target", original.get("target"), updated.get("target"), major=True)
    changes.record("sourceUrl", original.get("sourceUrl"), updated.get("sourceUrl"))
    changes.record("sourceHash", original.get("sourceHash"), updated.get("sourceHash"),
                   bump=how.release.has("source_hash_bumps_version"))


def _ids(refs: list | None) -> list[str]:
    return sorted(r["id"] for r in refs or [] if r)


def _merge_tags(original: list | None, updated: list | None) -> list:
    merged = list(original or [])
    known = {t["tagFQN"] for t in merged}
    merged += [t for t in updated or [] if t["tagFQN"] not in known]
    return merged


# --- reads --------------------------------------------------------------------------------------


def view(entity: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    """The entity as a GET returns it: field-controlled parts only when asked for."""
    shown = {k: v for k, v in entity.items() if k not in FIELD_CONTROLLED or (fields and k in fields)}
    if not (fields and "tags" in fields):
        shown["mlFeatures"] = [{k: v for k, v in f.items() if k != "tags"} for f in entity.get("mlFeatures") or []]
        if not entity.get("mlFeatures"):
            shown.pop("mlFeatures", None)
    return {k: v for k, v in shown.items() if v is not None}
