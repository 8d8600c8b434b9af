"""Names a person can trust: the characters that make a name read differently from what it is (pure).

A name is an identifier the catalog shows or a server matches: a model, a feature, a service, an
owner, a tag, a table's FQN, a registered model. Whoever reads it in the catalog, in a pull
request or in a log must see what it is, so a name may not hold:

- **bidirectional controls** (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): they
  reorder what follows, so ``abc<U+202E>fed.exe`` shows as ``abcexe.def``;
- **invisible characters**: every format character (Unicode category Cf: zero-width spaces and
  joiners, the byte-order mark, the soft hyphen, tag characters ...) and the other characters
  Unicode ignores by default when displaying (Hangul fillers, variation selectors, the
  combining grapheme joiner): two names that differ only by one look the same;
- **control characters** (Cc: NUL, tab, line breaks, escape, C1) and the line and paragraph
  separators (Zl, Zp): a line break in a name forges a line of a log or a CI annotation;
- lone **surrogates** (Cs), which no UTF-8 output can even write.

Free text (descriptions, model-card sections) is another matter: Markdown has line breaks and
tabs, and prose in Arabic, Hebrew, Persian or Indic scripts rightly uses the directional marks
and the zero-width joiners. There only what reorders or hides text is flagged: the embeddings,
overrides and isolates, the control characters other than tab and line breaks, and tag
characters (invisible letters: text hidden from the reader but not from a program).

Look-alike letters from other scripts (a Cyrillic ``а`` for a Latin ``a``) are visible
characters of real names and are not refused here.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# Embeddings, overrides and isolates: the controls that reorder the text after them (the marks
# U+200E, U+200F and U+061C only give a neutral character a direction).
REORDERING = frozenset({*range(0x202A, 0x202F), *range(0x2066, 0x206A)})
TAGS = range(0xE0000, 0xE0080)
# Unicode's Default_Ignorable_Code_Point characters that are not format characters: drawn as
# nothing by default (DerivedCoreProperties.txt)
_IGNORED_WHEN_SHOWN = (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, *range(0x180B, 0x1810), 0x3164,
                       *range(0xFE00, 0xFE10), 0xFFA0, *range(0xFFF0, 0xFFF9), *range(0x1BCA0, 0x1BCA4),
                       *range(0xE0100, 0xE01F0))
IGNORED_WHEN_SHOWN = frozenset(_IGNORED_WHEN_SHOWN)
_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_TEXT_KEEPS = frozenset("\t\n\r")
_KEPT_IN_TEXT = str.maketrans("\t\n\r", "   ")
# Control characters have no Unicode name; these are their aliases (NameAliases.txt)
_CONTROL_NAMES = {0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x09: "CHARACTER TABULATION", 0x0A: "LINE FEED",
                  0x0B: "LINE TABULATION", 0x0C: "FORM FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE",
                  0x7F: "DELETE", 0x85: "NEXT LINE"}


class Unsafe(NamedTuple):
    """One character a reader cannot trust, and where it is (0-based)."""

    index: int
    char: str

    @property
    def kind(self) -> str:
        code = ord(self.char)
        if code in BIDI_CONTROLS:
            return "a bidirectional control"
        category = unicodedata.category(self.char)
        if category == "Cc" or category in ("Zl", "Zp"):
            return "a control character" if category == "Cc" else "a line break"
        if category == "Cs":
            return "a lone surrogate"
        return "an invisible character"

    def describe(self) -> str:
        """``U+202E RIGHT-TO-LEFT OVERRIDE``: how a person can find it (editors search by code point)."""
        code = ord(self.char)
        name = unicodedata.name(self.char, None) or _CONTROL_NAMES.get(code, "<control>" if code < 0xA0 else "")
        return f"U+{code:04X} {name}".rstrip()


def in_name(value: str) -> list[Unsafe]:
    """The characters a name may not hold (see the module's docstring)."""
    if value.isascii() and value.isprintable():  # the common case, at C speed: nothing to look at
        return []
    return [Unsafe(i, c) for i, c in enumerate(value) if _hidden_or_moving(c)]


def in_text(value: str) -> list[Unsafe]:
    """The characters free text should not hold: what reorders or hides it, and stray controls."""
    if value.isascii() and value.translate(_KEPT_IN_TEXT).isprintable():
        return []
    return [Unsafe(i, c) for i, c in enumerate(value)
            if ord(c) in REORDERING or ord(c) in TAGS
            or (unicodedata.category(c) in ("Cc", "Cs") and c not in _TEXT_KEEPS)]


def _hidden_or_moving(char: str) -> bool:
    return unicodedata.category(char) in _NOT_IN_NAMES or ord(char) in IGNORED_WHEN_SHOWN


def shown(value: str, limit: int = 60) -> str:
    """The value quoted, each untrustworthy character spelled as an escape (``'abc\\u202edef'``),
    so that a message about it shows where it is instead of acting on the terminal or the page."""
    escaped = "".join(_escape(c) if _hidden_or_moving(c) or c == "\\" else c for c in value)
    if len(escaped) > limit:
        escaped = escaped[:limit - 3] + "..."
    return f"'{escaped}'"


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def problem(value: str, what: str = "a name", fix: str = "remove it") -> str | None:
    """Why ``value`` cannot be a name, in one sentence ending with ``fix``; None when it can."""
    found = in_name(value)
    if not found:
        return None
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return (f"character {first.index + 1} of {shown(value)} is {first.describe()}, {first.kind}{more}: "
            f"{what} holding it reads differently from what it is; {fix}")
