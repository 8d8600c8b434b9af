"""What is in Production now, for which specs, and acting on it: shared by ``watch`` and
``webhook serve``.

A *watch key* is one registered model under one definition of Production (alias, stage) - the
specs documenting a model normally agree on it; when two disagree, each gets its own key.
``current`` reads the registry once (one paged search) and answers, per key, the promotion in
effect and the specs it concerns; ``act`` publishes those specs through ``publish.execute`` and
builds one event per promotion from the results and the registry's record of the version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import names
from mlmeta.config import Settings
from mlmeta.events import CatalogOutcome, PromotionEvent
from mlmeta.registry.table import kind_of, wanted_of
from mlmeta.registry.types import Promotion, RegistryError, Wanted
from mlmeta.spec.load import LoadedSpec
from mlmeta.spec.model import DEFAULT_STAGE


@dataclass
class Watched:
    """One registered model under one definition of Production, and the specs that document it."""

    registered_model: str
    alias: str | None
    stage: str | None
    specs: list[LoadedSpec] = field(default_factory=list)
    rule: Any = None  # Kubeflow Model Registry: the Production rule (mlmeta.registry.kubeflow_rules.Rule)

    @property
    def key(self) -> str:
        if self.rule is not None:
            return f"{self.registered_model}|{self.rule.recognised_by()}={self.rule.marker()}"
        return f"{self.registered_model}|alias={self.alias or ''}|stage={self.stage or ''}"

    @property
    def wanted(self) -> Wanted:
        return Wanted(self.registered_model, self.alias, self.stage, self.rule)

    def spec_digest(self) -> str:
        """Changes when a spec of this model changes: a failed publish is retried after a fix."""
        digest = hashlib.sha256()
        for loaded in sorted(self.specs, key=lambda s: str(s.path)):
            digest.update(str(loaded.path).encode())
            digest.update(loaded.spec.model_dump_json().encode())
            digest.update((loaded.description or "").encode())
        return digest.hexdigest()[:16]


def watched(specs: list[LoadedSpec], settings: Settings, extra_models: list[str] = (),
            problems: list[str] | None = None) -> dict[str, Watched]:
    """Watch keys for the valid specs (and, for ``--all-models``, every other registered model
    under the default definition of Production, but one whose name holds a bidirectional control,
    an invisible or a control character: a problem of its own, see ``mlmeta.names``)."""
    keys: dict[str, Watched] = {}
    for loaded in specs:
        try:
            wanted = wanted_of(loaded.spec, settings)
        except RegistryError as error:  # a spec that cannot say what Production is, here: not watched
            if problems is not None:
                problems.append(f"{loaded.display_path} is not watched: {error}")
            continue
        item = Watched(wanted.registered_model, wanted.alias, wanted.stage, rule=wanted.rule)
        keys.setdefault(item.key, item).specs.append(loaded)
    documented = {w.registered_model for w in keys.values()}
    # a registry without a default Production marker (KF MR) leaves no other model to watch
    for name in extra_models if kind_of(settings.registry).has_default_production else ():
        if name in documented:
            continue
        untrusted = names.problem(name, "a registered model name", "rename it in the registry")
        if untrusted:  # any registry user can name a model: never announced as-is, and the rest go on
            if problems is not None:
                problems.append(f"a registered model is not watched: {untrusted}")
            continue
        item = Watched(name, settings.alias, DEFAULT_STAGE)
        keys.setdefault(item.key, item)
    return keys


def current(registry: Any, keys: dict[str, Watched], models: dict[str, dict[str, Any]],
            problems: list[str] | None = None) -> dict[str, Promotion]:
    """The promotion in effect per watch key (keys whose model has none are left out; a rule that
    cannot tell, such as two versions marked, is a problem, and the model waits for it to be fixed)."""
    found = {}
    for key, item in keys.items():
        model = models.get(item.registered_model)
        try:
            promotion = registry.promotion_in(model, item.wanted) if model else None
        except RegistryError as error:
            if problems is not None:
                problems.append(f"{item.registered_model}: {error}")
            continue
        if promotion is not None:
            found[key] = promotion
    return found


def act(promoted: list[tuple[Watched, Promotion]], settings: Settings, *, registry: Any, trigger: str,
        generations: list[int], create_service: bool = False) -> list[PromotionEvent]:
    """Publish the specs of these promotions (one pipeline run) and describe each as an event;
    ``generations``: each promotion's, from the checkpoint (``follow``), in the same order."""
    from mlmeta.commands.publish import Options, execute

    files = sorted({loaded.path for item, _ in promoted for loaded in item.specs})
    results = {}
    if files:
        report = execute(files, settings, Options(create_service=create_service))
        results = {r.spec: r for r in report.results}
        for invalid in report.invalid:  # a spec that stopped validating since it was read
            results[invalid.path] = None
    registry.prefetch_versions([promotion for _, promotion in promoted])  # the events' versions, in one read
    events = []
    for (item, promotion), generation in zip(promoted, generations, strict=True):
        outcomes = []
        for loaded in item.specs:
            result = results.get(loaded.display_path)
            if result is None:
                outcomes.append(CatalogOutcome("failed", spec=loaded.display_path, message="the spec is invalid"))
            else:
                outcomes.append(CatalogOutcome(result.status, result.model, result.version_after, result.spec,
                                               result.message, transient=result.transient))
        if not item.specs:
            outcomes.append(CatalogOutcome("skipped", message="no spec documents this registered model"))
        events.append(PromotionEvent(
            registered_model=promotion.registered_model, version=promotion.version,
            recognised_by=promotion.recognised_by, marker=promotion.marker,
            model_version=registry.model_version(promotion.registered_model, promotion.version),
            generation=str(generation), outcomes=tuple(outcomes), trigger=trigger, source=registry.public_uri, registry=registry.name))
    return events


def events_of_report(report: Any, registry: Any, trigger: str = "publish") -> list[PromotionEvent]:
    """One event per promotion a publish acted on (created, updated or failed - not unchanged or
    skipped: nothing happened for those), the specs of one promotion together."""
    grouped: dict[tuple, list[Any]] = {}
    for result in report.results:
        if result.status not in ("created", "updated", "failed") or not result.production:
            continue
        p = result.production
        key = (p["registered_model"], p["version"], p["recognised_by"], p["marker"])
        grouped.setdefault(key, []).append(result)
    return [PromotionEvent(registered_model=name, version=version, recognised_by=by, marker=marker,
                           model_version=registry.model_version(name, version),
                           generation=catalog_generation(results),
                           outcomes=tuple(CatalogOutcome(r.status, r.model, r.version_after, r.spec, r.message)
                                          for r in results),
                           trigger=trigger, source=registry.public_uri, registry=registry.name)
            for (name, version, by, marker), results in grouped.items()]


def catalog_generation(results: list[Any]) -> str:
    """A publish's generation, without a checkpoint: the catalog's versions of what it wrote. Every
    write makes a new entity version, so a promotion published again after a rollback gets another;
    a failed write is named by the version it did not replace (``new`` for a create), so a rerun
    that fails the same way keeps it, and the rerun that succeeds is a new event."""
    def written(result: Any) -> str:
        if result.status == "failed":
            return f"{result.model or result.spec}@{_entity_version(result.version_before)}:failed"
        return f"{result.model or result.spec}@{_entity_version(result.version_after)}"

    return ",".join(sorted(written(r) for r in results))


def _entity_version(version: float | None) -> str:
    return "new" if version is None else str(version)


def failed(event: PromotionEvent) -> bool:
    return any(o.action == "failed" for o in event.outcomes)


def transient(event: PromotionEvent) -> bool:
    """A spec's publish failed because a server kept failing: the outcome is not final yet."""
    return any(o.action == "failed" and o.transient for o in event.outcomes)


def spec_files(settings: Settings, paths: list[Path] | None) -> list[Path]:
    from mlmeta.spec.discovery import find_spec_files

    return find_spec_files(list(paths) if paths else list(settings.spec_paths))
