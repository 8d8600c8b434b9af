"""Which version of a Kubeflow Model Registry model is in Production (pure).

KF MR has no stages and no aliases: a version has a ``state`` (LIVE, ARCHIVED) and custom
properties; the UI shows custom properties with an empty string value as *labels*. What counts as
Production is declared in the spec, never guessed, as one of:

- ``{property: stage, value: production}``: the version whose custom property ``stage`` is the
  string ``production`` (``{label: production}``: the version carrying that label);
- ``{state: LIVE, newest: true}``: the newest LIVE version;
- ``{version_property: production_version}``: the version the registered model's custom property
  names.

Two versions matching is an error naming both; a property of another type than a string is an
error naming its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RuleError(Exception):
    """The rule cannot say which version is in Production; the message names why."""


@dataclass(frozen=True)
class Rule:
    property: str | None = None
    value: str | None = None
    label: str | None = None
    newest_live: bool = False
    version_property: str | None = None

    @classmethod
    def from_spec(cls, production: Any) -> Rule:
        """The rule of a spec's ``kubeflow.production`` (already checked to say one thing)."""
        if production.label is not None:
            return cls(label=production.label)
        if production.property is not None:
            return cls(property=production.property, value=production.value)
        if production.version_property is not None:
            return cls(version_property=production.version_property)
        return cls(newest_live=True)

    def key(self) -> str:
        """The spec key the rule is written under (where a finding about it goes)."""
        if self.label is not None:
            return "label"
        if self.property is not None:
            return "property"
        return "version_property" if self.version_property is not None else "state"

    def recognised_by(self) -> str:
        return "newest_live" if self.key() == "state" else self.key()

    def marker(self) -> str:
        if self.label is not None:
            return self.label
        if self.property is not None:
            return f"{self.property}={self.value}"
        return self.version_property if self.version_property is not None else "LIVE"

    def describe(self) -> str:
        if self.label is not None:
            return f"label {self.label!r}"
        if self.property is not None:
            return f"custom property {self.property} = {self.value!r}"
        if self.version_property is not None:
            return f"the version named by the registered model's custom property {self.version_property}"
        return "the newest LIVE version"


def _string(properties: dict[str, Any], name: str, owner: str) -> str | None:
    value = (properties or {}).get(name)
    if value is None:
        return None
    if value.get("metadataType") != "MetadataStringValue":
        # "of {owner}", not "{owner}'s": the owner ends with a quoted name ('v1''s read as a doubled quote)
        raise RuleError(f"the custom property {name} of {owner} is a {value.get('metadataType')}, not a string")
    return value.get("string_value")


def production_of(model: dict[str, Any], versions: list[dict[str, Any]], rule: Rule) -> dict[str, Any] | None:
    """The version in Production by ``rule``, or None when none is; RuleError when the rule cannot tell."""
    live = [v for v in versions if v.get("state", "LIVE") == "LIVE"]
    if rule.version_property is not None:
        name = _string(model.get("customProperties"), rule.version_property, f"registered model {model['name']!r}")
        if name is None:
            return None
        named = [v for v in versions if v.get("name") == name]
        if not named:
            raise RuleError(f"registered model {model['name']!r} names version {name!r} in {rule.version_property}, "
                            "which it does not have")
        return named[0]
    if rule.newest_live:
        return max(live, key=lambda v: (int(v.get("createTimeSinceEpoch") or 0), int(v["id"])), default=None)
    key, wanted = (rule.label, "") if rule.label is not None else (rule.property, rule.value)
    matching = [v for v in live
                if _string(v.get("customProperties"), key, f"version {v.get('name')!r}") == wanted]
    if len(matching) > 1:
        names = ", ".join(repr(v.get("name")) for v in matching)
        raise RuleError(f"{rule.describe()} matches {len(matching)} versions of {model['name']!r}: {names}; "
                        "exactly one may be in Production")
    return matching[0] if matching else None
