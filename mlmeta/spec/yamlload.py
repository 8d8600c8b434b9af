"""Safe YAML loading that remembers where every value came from.

PyYAML composes a node graph (with marks) and we build plain Python data from it ourselves,
because the stock constructors lose positions, keep the last of duplicate keys silently and
expand aliases without limit. Here:

* only the YAML core types are built (str, int, float, bool, null, lists, mappings); any other
  tag - ``!!python/object`` included - is an error, so loading never runs code;
* a duplicate key is an error pointing at the second occurrence;
* alias expansion and nesting are bounded, so a "billion laughs" file fails at once;
* every value's position is kept by its path (``("features", 0, "name")``), which is how
  validation errors get an exact line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

try:  # libyaml's composer is several times faster; the pure one behaves the same
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML wheels ship libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # values built, counting every expansion of an alias
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_TIMESTAMP_TAG = _TAG + "timestamp"  # kept as written: specs have no date fields
_MERGE_TAG = _TAG + "merge"

Loc = tuple  # a location inside the document: keys and list indexes


class Position(NamedTuple):  # tuples: a spec has a few hundred of these, 2,000 specs a million
    line: int  # 1-based
    column: int  # 1-based


class NodeSpan(NamedTuple):
    start: Position
    end: Position
    key: Position | None = None  # for mapping values: where their key is written


class YamlProblem(Exception):
    """A file that cannot be turned into data; carries a diagnostic code and a position."""

    def __init__(self, code: str, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.position = position or Position(1, 1)


@dataclass
class Document:
    data: Any
    spans: dict[Loc, NodeSpan]

    def locate(self, path: Loc, *, at_key: bool = False) -> NodeSpan:
        """The span of the value at ``path`` or, if it does not exist, of its nearest parent."""
        path = tuple(path)
        while path not in self.spans and path:
            path = path[:-1]
        span = self.spans.get(path) or NodeSpan(Position(1, 1), Position(1, 1))
        if at_key and span.key is not None:
            return NodeSpan(span.key, span.key, span.key)
        return span


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def read_text(path: Path) -> str:
    """Read a spec file as UTF-8 text, refusing what cannot be a spec before parsing it."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise YamlProblem("F001", "file not found") from None
    except IsADirectoryError:
        raise YamlProblem("F001", "is a directory, not a file") from None
    except OSError as error:
        raise YamlProblem("F001", f"cannot read file: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise YamlProblem("F004", f"file is larger than {MAX_FILE_BYTES // 1024} KiB; a spec is never that big")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise YamlProblem(
            "F003",
            f"file is not valid UTF-8 (byte 0x{raw[error.start]:02x}); save it as UTF-8",
            Position(line, column),
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise YamlProblem("F002", "file is empty: a spec needs at least 'mlmeta', 'name' and 'features'")
    return text


def parse_yaml(text: str) -> Document:
    """Parse one YAML document into plain data plus the span of every value."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        unclosed = _unclosed(error, text)
        if unclosed is not None:
            raise YamlProblem("Y001", *unclosed) from None
        position = _problem_position(error)
        raise YamlProblem("Y001", _yaml_message(error, _char_at(text, position)), position) from None
    except yaml.YAMLError as error:
        raise YamlProblem("Y001", f"YAML error: {error}") from None
    if root is None:
        raise YamlProblem("F002", "file is empty: a spec needs at least 'mlmeta', 'name' and 'features'")
    builder = _Builder()
    data = builder.build(root, (), depth=0)
    return Document(data, builder.spans)


_OPENERS = {"while parsing a flow sequence": "'['", "while parsing a flow mapping": "'{'",
            "while scanning a quoted scalar": "quote"}


def _unclosed(error: yaml.MarkedYAMLError, text: str) -> tuple[str, Position] | None:
    """A bracket or quote that is never closed: reported where it opened (as Python's parser does),
    not where the parser gave up - often the end of the file, far below the mistake."""
    opener = _OPENERS.get(error.context or "")
    if opener is None or error.context_mark is None or error.problem_mark is None:
        return None
    opened, gave_up = _position(error.context_mark), _position(error.problem_mark)
    if opener == "quote":
        quote = _char_at(text, opened) or "quote"
        opener = f"'{quote}'" if quote in "'\"" else opener
    where = "the end of the file" if gave_up.line > len(text.splitlines()) or error.problem and "end of stream" in \
        error.problem else f"line {gave_up.line}, column {gave_up.column}"
    return f"YAML syntax error: this {opener} is never closed (the parser gave up at {where})", opened


def _problem_position(error: yaml.MarkedYAMLError) -> Position | None:
    mark = error.problem_mark or error.context_mark
    return _position(mark) if mark is not None else None


def _char_at(text: str, position: Position | None) -> str:
    if position is None:
        return ""
    lines = text.splitlines()
    if position.line > len(lines) or position.column > len(lines[position.line - 1]):
        return ""
    return lines[position.line - 1][position.column - 1]


def _yaml_message(error: yaml.MarkedYAMLError, char: str) -> str:
    parts = [p for p in (error.context, error.problem) if p]
    message = ", ".join(parts) or "invalid YAML"
    if "expected a single document" in message:
        return "a spec file holds one YAML document; remove the extra '---' documents"
    if char == "\t":
        return "YAML syntax error: a tab character; YAML indents with spaces only"
    return "YAML syntax error: " + message


class _Builder:
    def __init__(self) -> None:
        self.spans: dict[Loc, NodeSpan] = {}
        self.count = 0
        self._scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Loc, depth: int, key: Position | None = None) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(
                "Y003",
                f"the document expands to more than {MAX_NODES} values (aliases expanding "
                "exponentially?); refusing to load it",
                _position(node.start_mark),
            )
        if depth > MAX_DEPTH:
            raise YamlProblem("Y003", f"nesting deeper than {MAX_DEPTH} levels", _position(node.start_mark))
        self.spans[path] = NodeSpan(_position(node.start_mark), _position(node.end_mark), key)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            self._require_tag(node, _TAG + "seq")
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _require_tag(self, node: yaml.Node, tag: str) -> None:
        if node.tag != tag:
            shown = node.tag.replace(_TAG, "!!", 1) if node.tag.startswith(_TAG) else node.tag
            raise YamlProblem("Y004", f"unsupported YAML tag {shown!r}: specs hold plain strings, numbers, "
                                      "lists and mappings (mlmeta never constructs objects from YAML)",
                              _position(node.start_mark))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        if node.tag == "!":  # the non-specific tag: a plain string
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self._require_tag(node, "")
        return self._scalars.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, path: Loc, depth: int) -> dict[str, Any]:
        self._require_tag(node, _TAG + "map")
        result: dict[str, Any] = {}
        seen_at: dict[str, Position] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self._key(key_node)
            key_at = _position(key_node.start_mark)
            if key in seen_at:
                first = seen_at[key]
                raise YamlProblem(
                    "Y002",
                    f"duplicate key {key!r} (first defined at line {first.line}, column {first.column})",
                    key_at,
                )
            seen_at[key] = key_at
            result[key] = self.build(value_node, path + (key,), depth + 1, key_at)
        # merge keys (<<: *defaults): explicit keys win, earlier merge sources win over later ones
        for source in merged:
            for key_node, value_node in source.value:
                key = self._key(key_node)
                if key not in result:
                    result[key] = self.build(value_node, path + (key,), depth + 1, _position(key_node.start_mark))
        return result

    def _merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise YamlProblem("Y004", "a merge key (<<) must refer to a mapping", _position(source.start_mark))
        return sources

    def _key(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_TAG + "str", "!"):
            return node.value
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__.replace("Node", "").lower()
        raise YamlProblem(
            "Y005",
            f"mapping keys must be strings, found {shown!r}; quote it if it is meant as text",
            _position(node.start_mark),
        )
