"""What each OpenMetadata release does differently, in one place.

The adapter reads the server's version once (``GET /v1/system/version``) and asks this module for
the release's ``Capabilities``: which field shapes it takes, whether PATCH honours ``If-Match``,
which custom property types exist, which write bugs it carries. The sandbox plays a release
from the same record. Nothing else in mlmeta asks "which version am I talking to?".

Each ``Rule`` cites where its behaviour was confirmed: the release's own generated schemas (the
``openmetadata-ingestion`` wheel of that minor on PyPI), the server's sources, its PRs, issues
and release notes. The README's compatibility table is rendered from ``RULES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import total_ordering

OLDEST = (1, 5)  # owners as a list, pydantic-2 schemas: the oldest release mlmeta speaks to
NEWEST_KNOWN = (2, 0)  # the newest minor whose SDK wheel is on PyPI (2.0.7.0, 2026-12-02)
# The header ``mlmeta sandbox`` adds to its version answer: it plays a release's version string
# exactly (OpenMetadata's own SDK clients read it), so that mlmeta can still tell a user it is not
# talking to a real server.
SANDBOX_HEADER = "X-Mlmeta-Sandbox"


class UnsupportedRelease(Exception):
    """A server older than ``OLDEST``, or an answer that is not a version."""


@total_ordering
@dataclass(frozen=True)
class Version:
    text: str
    numbers: tuple[int, ...]  # major, minor, patch (and the SDK's fourth number, if any)

    @property
    def minor(self) -> tuple[int, int]:
        return self.numbers[0], self.numbers[1]

    @property
    def line(self) -> str:
        return f"{self.numbers[0]}.{self.numbers[1]}"

    def __lt__(self, other: Version) -> bool:
        return self.numbers < other.numbers

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.numbers == other.numbers

    def __hash__(self) -> int:
        return hash(self.numbers)

    def __str__(self) -> str:
        return self.text


_VERSION = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> Version:
    """``1.12.14``, ``1.5.15.2`` (an SDK's), ``2.0.7-SNAPSHOT``, ``1.9.0-rc1`` ..."""
    match = _VERSION.match(str(text))
    if not match:
        raise UnsupportedRelease(f"{text!r} is not a release version")
    numbers = tuple(int(n) for n in match.groups() if n is not None)
    return Version(str(text).strip(), numbers + (0,) * (3 - len(numbers)))


def at_least(*numbers: int) -> Callable[[Version], bool]:
    return lambda version: version.numbers >= numbers


def before(*numbers: int) -> Callable[[Version], bool]:
    return lambda version: version.numbers < numbers


@dataclass(frozen=True)
class Rule:
    key: str
    applies: Callable[[Version], bool]
    releases: str  # the range, for people
    behaviour: str  # what the server does where the rule applies
    consequence: str  # what mlmeta does about it
    evidence: str


def between(low: tuple[int, ...], high: tuple[int, ...]) -> Callable[[Version], bool]:
    """From ``low`` (included) to ``high`` (excluded)."""
    return lambda version: low <= version.numbers < high


RULES: tuple[Rule, ...] = (
    Rule("domains", at_least(1, 9), "1.9.0+",
         "an entity's domains are a list: create requests take `domains` (FQNs) and reads ask `fields=domains`; "
         "up to 1.8 there is one `domain` (`fields=domain`), and each line refuses the other's name with a 400",
         "sends and reads the field the release has",
         "the generated CreateMlModelRequest and MlModel of every minor (`domain` up to 1.8.12.0, `domains` from "
         "1.9.0.0); CatalogExceptionMessage.invalidField"),
    Rule("if_match", at_least(1, 9), "1.9.0+",
         "PATCH honours `If-Match` (`*`, `W/\"<version>\"` or the ETag; 412 on a mismatch) and answers carry an "
         "ETag; earlier releases ignore the header and send no ETag",
         "where it is not honoured, re-reads the version right before each PATCH, and checks every write",
         "issue 22290, PR 22291 (merged 2025-07-13, first in 1.9.0): EntityETag, ETagRequestFilter"),
    Rule("if_match_drops_entity_fields", between((1, 9), (1, 13, 2)), "1.9.0 to 1.13.1",
         "a PATCH carrying `If-Match` runs the base updater only: a change of ML-model fields alone (mlFeatures, "
         "algorithm, target, hyperparameters, mlStore, server, dashboard, sourceUrl, sourceHash) is answered 200 "
         "with the change echoed, `entityNoChange`, and not stored; beside a top-level change it is stored "
         "without its major version bump, and a dashboard change is lost",
         "re-reads the version, then sends the PATCH without `If-Match`",
         "issue 28876, PR 28837 (merged 2026-06-09; EntityRepository.getUpdater's 5-argument overload); the "
         "fix's SDK half first ships in 1.13.2.0 and 2.0.0.0, no 1.12.x has it"),
    Rule("content_etags", at_least(2, 0), "2.0.0+",
         "the ETag hashes the whole serialised entity as read (it depends on `fields=`); 1.9 to 1.13 hash "
         "`version-updatedAt`", "sends the weak `W/\"<version>\"`, the one validator a client can reproduce",
         "PR 30497 (cherry-picked to 2.0 as PR 30502, before 2.0.0rc1); issues 30885, 30886; PR 30887"),
    Rule("table_cp", at_least(1, 5, 7), "1.5.7+",
         "the `table-cp` custom property type exists", "defines and writes `mlflowMetrics` only where it exists",
         "PR 18135; `type/customProperties/tableConfig.py` first in the 1.5.7.0 wheel"),
    Rule("edge_audit", at_least(1, 7), "1.7.0+",
         "lineage details carry createdAt/createdBy and updatedAt/updatedBy",
         "names who drew an edge (drift) where the release records it",
         "PR 19639 (issue 12598); LineageDetails in the 1.7.0.0 wheel, absent in 1.6.13.2"),
    Rule("source_hash_bumps_version", before(1, 11, 9), "1.5.0 to 1.11.8",
         "a change of `sourceHash` alone moves the version by 0.1 (later releases store it without a bump)",
         "expects that version when it checks a write",
         "PR 25675 (merged 2026-02-03): its SDK half first ships in 1.11.9.0 and 1.12.0.0"),
    Rule("strict_names", at_least(2, 0), "2.0.0+",
         "entity and feature names must match `^((?!::)[^>\"\\x00-\\x1f])*$` (1.x refuses only `::`)",
         "`validate` refuses such names offline on every release, so a spec stays valid across an upgrade",
         "PR 30211 (basic.json entityName); 2.0 breaking changes, \"Entity name validation tightened\""),
)
BY_KEY = {rule.key: rule for rule in RULES}


@dataclass(frozen=True)
class Capabilities:
    """What the server at hand does, from its version; a newer release than any known behaves as the newest."""

    version: Version
    assumed: Version  # the version whose behaviour applies (the server's own, unless it is newer than known)
    flags: frozenset[str] = field(default_factory=frozenset)
    sandbox: bool = False  # the server announced itself as mlmeta's sandbox (SANDBOX_HEADER)

    def has(self, key: str) -> bool:
        if key not in BY_KEY:
            raise KeyError(key)
        return key in self.flags

    @property
    def newer_than_known(self) -> bool:
        return self.version.minor > NEWEST_KNOWN

    @property
    def domain_field(self) -> str:
        return "domains" if self.has("domains") else "domain"

    def switches(self) -> list[dict[str, object]]:
        """Every rule with whether it is in effect: for ``-v``, ``validate --online`` and JSON output."""
        return [{"key": r.key, "on": r.key in self.flags, "releases": r.releases, "behaviour": r.behaviour,
                 "evidence": r.evidence} for r in RULES]

    def summary(self) -> str:
        """One line for people: the version and the behaviours in effect."""
        behaves = f" (behaves as {self.assumed})" if self.newer_than_known else ""
        on = ", ".join(rule.key for rule in RULES if rule.key in self.flags) or "none"
        played = " as played by mlmeta's sandbox (not a real OpenMetadata server)" if self.sandbox else ""
        return f"OpenMetadata {self.version}{behaves}{played}; in effect: {on}"

    def consequences(self) -> list[str]:
        """What mlmeta does about each behaviour in effect (``-v``)."""
        return [f"{rule.key}: {rule.consequence}" for rule in RULES if rule.key in self.flags]

    def as_dict(self) -> dict[str, object]:
        return {"version": self.version.text, "behaves_as": self.assumed.text, "summary": self.summary(),
                "newer_than_known": self.newer_than_known, "sandbox": self.sandbox, "switches": self.switches()}


def capabilities(version_text: str, *, extra: frozenset[str] = frozenset()) -> Capabilities:
    """The record for a server answering ``version_text``; ``extra`` adds flags (the sandbox's quirks)."""
    version = parse_version(version_text)
    if version.minor < OLDEST:
        raise UnsupportedRelease(f"OpenMetadata {version} is older than {OLDEST[0]}.{OLDEST[1]}, the oldest release "
                                 "mlmeta supports")
    assumed = version if version.minor <= NEWEST_KNOWN else Version(
        f"{NEWEST_KNOWN[0]}.{NEWEST_KNOWN[1]}.x", (*NEWEST_KNOWN, 10**6))
    flags = frozenset(rule.key for rule in RULES if rule.applies(assumed)) | extra
    return Capabilities(version, assumed, flags)


def supported_range() -> str:
    return f"{OLDEST[0]}.{OLDEST[1]} to {NEWEST_KNOWN[0]}.{NEWEST_KNOWN[1]}.x"


def markdown_table() -> str:
    """The README's compatibility table, from ``RULES`` (a test keeps the two the same)."""
    rows = ["| behaviour | releases | what mlmeta does | evidence |", "| --- | --- | --- | --- |"]
    rows += [f"| {r.behaviour} | {r.releases} | {r.consequence} | {r.evidence} |" for r in RULES]
    return "\n".join(rows)

