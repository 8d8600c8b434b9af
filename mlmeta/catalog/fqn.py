"""OpenMetadata fully qualified names, without the SDK.

The rules follow the server's ``FullyQualifiedName`` (and the SDK's ``metadata.utils.fqn``):
parts are joined by dots; a part that contains a dot is wrapped in double quotes; a part may
not contain a double quote otherwise; no part is empty. Importing the SDK to split a string
would cost seconds, so this module re-states those few rules and the tests check it against
the SDK.
"""

from __future__ import annotations

SEPARATOR = "."


class FqnError(ValueError):
    """A malformed FQN; ``offset`` is the 0-based character where the problem is."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def split(fqn: str) -> list[str]:
    """Split an FQN into its parts, unquoting quoted parts: ``'s."a.b".t'`` -> ``['s', 'a.b', 't']``."""
    if not isinstance(fqn, str) or not fqn:
        raise FqnError("an FQN cannot be empty")
    parts: list[str] = []
    i = 0
    while True:
        if i < len(fqn) and fqn[i] == '"':
            close = fqn.find('"', i + 1)
            if close == -1:
                raise FqnError("unclosed double quote", i)
            part = fqn[i + 1 : close]
            if not part:
                raise FqnError("empty quoted part", i)
            end = close + 1
            if end < len(fqn) and fqn[end] != SEPARATOR:
                raise FqnError("a quoted part must be followed by '.' or end the name", end)
        else:
            end = fqn.find(SEPARATOR, i)
            end = len(fqn) if end == -1 else end
            part = fqn[i:end]
            if not part:
                raise FqnError("empty part (two dots in a row, or a dot at the start or end)", i)
            if '"' in part:
                raise FqnError("a double quote may only wrap a whole part", i + part.index('"'))
        parts.append(part)
        if end == len(fqn):
            return parts
        i = end + 1
        if i == len(fqn):
            raise FqnError("empty part (two dots in a row, or a dot at the start or end)", end)


def quote(name: str) -> str:
    """One name as an FQN part: quoted when it contains a dot (the server's ``quoteName``)."""
    if '"' in name:
        raise FqnError(f"invalid name {name!r}: names cannot contain double quotes")
    return f'"{name}"' if SEPARATOR in name else name


def join(*names: str) -> str:
    """Build an FQN from unquoted names: ``join('svc', 'my.model')`` -> ``'svc."my.model"'``."""
    return SEPARATOR.join(quote(n) for n in names)


def normalize(fqn: str) -> str:
    """Canonical spelling: quotes only where needed (``'"a".b'`` -> ``'a.b'``)."""
    return join(*split(fqn))


def check_parts(fqn: str, expected: int | tuple[int, int], what: str) -> list[str]:
    """Split and check the number of parts; ``expected`` is exact or an inclusive range."""
    parts = split(fqn)
    low, high = (expected, expected) if isinstance(expected, int) else expected
    if not low <= len(parts) <= high:
        count = f"{low}" if low == high else f"{low} or more" if high >= 99 else f"{low} to {high}"
        raise FqnError(f"a {what} FQN has {count} dot-separated parts, {fqn!r} has {len(parts)}")
    return parts
