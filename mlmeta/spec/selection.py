"""``--select``: which of the loaded specs a command acts on, in the manner of dbt's ``--select`` (pure).

A selector is ``METHOD:VALUE``; several are a union (a spec matching any of them is selected):

- ``tag:Tier.Tier1`` - the model carries the tag (the model's own tags, compared as FQNs are:
  without regard to case);
- ``owner:NAME`` - a user or a team among the spec's owners (without regard to case);
- ``name:delivery_*`` - the model's name, an fnmatch pattern;
- ``path:model_specs/eta/*`` - the spec file's path as findings show it (relative to the working
  folder), an fnmatch pattern; a folder selects every spec below it.

Every value may be an fnmatch pattern (``*``, ``?``, ``[...]``). A malformed selector is a usage
error (exit 2) before anything is read; one that matches no spec is a warning, with a "did you
mean" among the values the specs hold. A spec that cannot be loaded has no tags, owners or name to
match: only a ``path:`` selector can select it, and the warning names the others left out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fnmatch import fnmatchcase

from mlmeta.errors import UsageError
from mlmeta.spec.load import LoadedSpec

METHODS = ("tag", "owner", "name", "path")
FORM = "METHOD:VALUE, METHOD one of tag, owner, name, path (e.g. tag:Tier.Tier1, name:delivery_*)"


@dataclass(frozen=True)
class Selector:
    method: str
    value: str

    def __str__(self) -> str:
        return f"{self.method}:{self.value}"

    def matches(self, spec: LoadedSpec | None, shown_path: str) -> bool:
        """``spec``: None when the file could not be loaded (only its path is known)."""
        if self.method == "path":
            return _path_matches(shown_path, self.value)
        if spec is None:
            return False
        return any(_value_matches(self.method, held, self.value) for held in values_of(self.method, spec))


def parse(texts: list[str]) -> list[Selector]:
    """The selectors as given on the command line; a malformed one stops the command (exit 2)."""
    return [_parse_one(text) for text in texts]


def _parse_one(text: str) -> Selector:
    method, colon, value = text.partition(":")
    method, value = method.strip(), value.strip()
    if not colon or not method:
        raise UsageError(f"--select {text!r}: expected {FORM}")
    if method not in METHODS:
        close = difflib.get_close_matches(method, METHODS, n=1)
        raise UsageError(f"--select {text!r}: unknown method {method!r}"
                         + (f"; did you mean {close[0]!r}?" if close else f"; expected {FORM}"))
    if not value:
        raise UsageError(f"--select {text!r}: nothing to match after '{method}:'; expected {FORM}")
    return Selector(method, value)


def values_of(method: str, spec: LoadedSpec) -> list[str]:
    """What a spec holds that a selector of ``method`` compares with (not ``path``)."""
    model = spec.spec
    if method == "tag":
        return list(model.tags or [])
    if method == "owner":
        return list(model.owners.users) + list(model.owners.teams) if model.owners else []
    return [model.name]


def _value_matches(method: str, held: str, pattern: str) -> bool:
    if method == "name":
        return fnmatchcase(held, pattern)
    return fnmatchcase(held.casefold(), pattern.casefold())  # tags and owners are names a server compares so


def _path_matches(shown_path: str, pattern: str) -> bool:
    path, pattern = _plain(shown_path), _plain(pattern)
    return fnmatchcase(path, pattern) or path.startswith(pattern.rstrip("/") + "/")


def _plain(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


@dataclass(frozen=True)
class Candidate:
    """One spec file to select from: its path as findings show it, and the spec when it loaded."""

    shown_path: str
    spec: LoadedSpec | None


def select(candidates: list[Candidate], selectors: list[Selector]) -> tuple[list[Candidate], list[str]]:
    """The candidates any selector matches, in their order, and the warnings: each selector that
    matched nothing, and the specs left out because they could not be loaded to be judged."""
    kept = [c for c in candidates if any(s.matches(c.spec, c.shown_path) for s in selectors)]
    warnings = [_matched_nothing(s, candidates) for s in selectors
                if not any(s.matches(c.spec, c.shown_path) for c in candidates)]
    unjudged = [c.shown_path for c in candidates if c.spec is None and c not in kept]
    if unjudged:
        warnings.append(f"--select: {len(unjudged)} spec(s) could not be loaded, so no tag, owner or name of theirs "
                        f"could match, and were left out: {', '.join(unjudged)} (mlmeta validate says why)")
    return kept, warnings


def _matched_nothing(selector: Selector, candidates: list[Candidate]) -> str:
    if selector.method == "path":
        known = [c.shown_path for c in candidates]
    else:
        known = sorted({v for c in candidates if c.spec is not None for v in values_of(selector.method, c.spec)})
    close = difflib.get_close_matches(selector.value, known, n=1)
    return (f"--select {selector} matches none of the {len(candidates)} spec(s)"
            + (f"; did you mean {selector.method}:{close[0]}?" if close else ""))
