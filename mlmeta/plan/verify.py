"""Did the server store what mlmeta wrote? (pure)

An answer of 200 is evidence, not proof: OpenMetadata 1.9.0 to 1.13.1 answered a PATCH carrying
``If-Match`` with the change echoed in its body, and stored none of the ML model's own fields
(issue 28876). So, as Terraform checks that "the provider produced a consistent result after
apply", every write is checked against what was meant - cheaply where the answer can prove it,
by reading the entity back where it cannot:

- the answer must hold every field written;
- the version must move as a change of those fields moves it (+1.0 for algorithm, server or
  target; +0.1 for the rest; nothing for ``sourceHash`` alone from 1.11.9);
- the answer's change description must name each ML-model field written (the bug's answer
  names none);
- and where the version cannot tell - a change that moves no version, or a PATCH the server may
  fold into our previous one (same user, no ``If-Match``: PATCH consolidation) - read it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlmeta.plan.desired import Desired
from mlmeta.plan.diff import NORMALISE
from mlmeta.catalog.releases import Capabilities

# what MlModelRepository's own updater applies (the rest is the base EntityUpdater's)
MODEL_FIELDS = ("algorithm", "dashboard", "mlFeatures", "mlHyperParameters", "mlStore", "server", "sourceUrl", "target")
MAJOR_FIELDS = ("algorithm", "server", "target")


def unheld(entity: dict[str, Any] | None, desired: Desired, fields: Iterable[str]) -> list[str]:
    """The fields among ``fields`` whose value in ``entity`` is not what ``desired`` asks for."""
    if entity is None:
        return list(fields)
    return [name for name in fields
            if NORMALISE[name](entity.get(name)) != NORMALISE[name](desired.fields.get(name))]


def expected_version(before: float, written: Iterable[str], release: Capabilities) -> float:
    """The version a server of this release gives the entity after a change of these fields."""
    written = set(written)
    if written & set(MAJOR_FIELDS):
        return round(before + 1.0, 1)
    if written - {"sourceHash"} or ("sourceHash" in written and release.has("source_hash_bumps_version")):
        return round(before + 0.1, 1)
    return before


def _named(change_description: dict[str, Any] | None) -> set[str]:
    names = set()
    for kind in ("fieldsAdded", "fieldsUpdated", "fieldsDeleted"):
        for change in (change_description or {}).get(kind) or []:
            names.add(str(change.get("name", "")).split(".")[0])
    return names


def why_read_back(before: dict[str, Any], answer: dict[str, Any], desired: Desired, written: list[str], *,
                  release: Capabilities, guarded_by_if_match: bool, user: str | None) -> str | None:
    """None when the PATCH answer alone proves the change stored; else why it must be read back."""
    missing = unheld(answer, desired, written)
    if missing:
        return f"the answer does not hold {', '.join(missing)}"
    expected = expected_version(before["version"], written, release)
    if expected == before["version"]:
        return "the change moves no version"
    if not guarded_by_if_match and before.get("updatedBy") == user:
        return "the server may fold this PATCH into our previous one (PATCH consolidation)"
    if answer.get("version") != expected:
        return f"the answer says version {answer.get('version')}, the change makes it {expected}"
    unnamed = [name for name in written if name in MODEL_FIELDS and name not in _named(answer.get("changeDescription"))]
    if unnamed:
        return f"the answer's change description does not name {', '.join(unnamed)}"
    return None
