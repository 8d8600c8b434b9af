"""The table of registries - a registry's name to its kind - and which registry a run reads, and
what each spec asks of it.

A project keeps its models in one registry: MLflow (the default) or Kubeflow Model Registry
(``registry = "kubeflow"``, or ``MLMETA_REGISTRY=kubeflow``). A spec may say which registry it
means (``registry: kubeflow``); one that names another registry than its project's fails at that
line rather than being read from the wrong place; a project file that names no registry, with
specs that all name the same other registry, reads that one.

Everything outside this package asks a registry's kind (``kind_of``) what differs, never its name.
This module imports neither ``mlmeta.config`` nor the spec model (the configuration checks its
``registry`` setting against ``names()``), and no adapter until one is opened.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

from mlmeta.registry.interface import Registry, RegistryKind
from mlmeta.registry.kinds import KUBEFLOW, MLFLOW
from mlmeta.registry.types import Promotion, RegistryError, Wanted, version_label

DEFAULT = MLFLOW.name  # the registry of a project that names none
REGISTRIES: dict[str, RegistryKind] = {}  # name -> kind, in the order registered


def register(kind: RegistryKind) -> None:
    """Make a registry known by its name: settings, specs and events may name it from now on."""
    REGISTRIES[kind.name] = kind


register(MLFLOW)
register(KUBEFLOW)


def names() -> tuple[str, ...]:
    """The names a ``registry`` setting may take."""
    return tuple(REGISTRIES)


def kind_of(name: str | None) -> RegistryKind:
    """The kind of the registry so named (None: the default's); KeyError for a name no kind has
    (the configuration's checks refuse those first)."""
    return REGISTRIES[name or DEFAULT]


def settings_for(specs: list[Any], settings: Any) -> Any:
    """The project's registry; when the project file does not name one and every spec of the run
    names the same other registry (``registry: kubeflow``), that one (a repository of Kubeflow
    models only needs no project setting)."""
    named = {s.spec.registry for s in specs}
    if "registry" in settings.sources or len(named) != 1 or None in named or named == {settings.registry}:
        return settings
    [name] = named
    return replace(settings, registry=name, sources={**settings.sources, "registry": f"registry: {name} in "
                                                                                     "every spec"})


def open_registry(settings: Any) -> Registry:
    """The adapter of the project's registry (it checks the server is what it claims to be)."""
    return kind_of(settings.registry).open(settings)


def wanted_of(spec: Any, settings: Any) -> Wanted:
    """What says which version of the spec's model is in Production, in the project's registry."""
    if spec.registry and spec.registry != settings.registry:
        where = settings.sources.get("registry", "the default")
        raise RegistryError(f"this spec's model is in {spec.registry}, but the project's registry is "
                            f"{settings.registry} ({where}); one project reads one registry", code="S007",
                            loc=("registry",))
    return kind_of(settings.registry).wanted(spec, settings)


def registry_label(settings: Any) -> str:
    """How messages name the registry."""
    return kind_of(settings.registry).label


def registry_loc(spec: Any, error: RegistryError | None = None) -> tuple:
    """Where in the spec a registry's finding goes: the rule or key it is about, else the model's name."""
    if error is not None and error.loc:
        return error.loc
    if spec.mlflow.registered_model:
        return ("mlflow", "registered_model")
    if spec.kubeflow and spec.kubeflow.registered_model:
        return ("kubeflow", "registered_model")
    return ("name",)


ALIAS_TYPO_CUTOFF = 0.75  # champoin -> champion (0.88) is a typo; challenger -> champion (0.44) is another alias


def mistyped_alias(spec: Any, wanted: Wanted, promotion: Promotion | None, carried: dict[str, str],
                   settings: Any) -> tuple[tuple, str] | None:
    """Where and why the alias a spec waits for is a typo, or None (docs/spec.md, "When the alias is
    not found"). The alias is a typo when no version carries it while (a) one version carries an
    alias close to it (``champoin`` for ``champion``), or (b) the spec names the alias itself and
    the model's versions carry others: a spec naming its own alias says the model uses it. A model
    none of whose versions carries any alias is not in production yet, and neither is one waiting
    for the project's alias while its versions carry others (a ``challenger`` before the first
    ``champion``)."""
    alias = wanted.alias
    if not alias or (promotion is not None and promotion.recognised_by == "alias") or alias in carried or not carried:
        return None
    close = _close_alias(alias, list(carried))
    named_in_spec = bool(spec.mlflow.alias)
    if close is None and not named_in_spec:
        return None
    where = ("mlflow", "alias") if named_in_spec else registry_loc(spec)
    said = "" if named_in_spec else f" (the project's alias, from {settings.where('alias')})"
    message = f"no version of {wanted.registered_model!r} carries alias {alias!r}{said}"
    if close is not None:
        return where, f"{message}; did you mean {close!r}? ({version_label(carried[close])} carries it)"
    listed = ", ".join(f"{name!r} ({version_label(version)})" for name, version in sorted(carried.items()))
    return where, (f"{message}; its versions carry {listed}. A spec's own alias must be one its model uses: "
                   f"fix it, or leave mlflow.alias out to wait for the project's ({settings.alias!r})")


def alias_candidates(registry: Registry, wanted: Wanted, promotion: Promotion | None) -> dict[str, str]:
    """The aliases the model's versions carry, read only when the alias waited for did not say which
    version is in Production (the one case ``mistyped_alias`` needs them)."""
    if not wanted.alias or (promotion is not None and promotion.recognised_by == "alias"):
        return {}
    return registry.aliases(wanted.registered_model)


def _close_alias(alias: str, carried: list[str]) -> str | None:
    same_but_case = [name for name in carried if name.lower() == alias.lower()]
    if same_but_case:
        return same_but_case[0]
    close = difflib.get_close_matches(alias, carried, n=1, cutoff=ALIAS_TYPO_CUTOFF)
    return close[0] if close else None
