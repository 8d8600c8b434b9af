"""Load one spec file: read, parse with positions, validate the shape, apply the rules.

The result is either a LoadedSpec or diagnostics - every one of them with the file, line and
column of the offending node. Demo-format files (see ``mlmeta.spec.demo``) are converted to v1
first and validated by the same code, with positions mapped back to the demo file.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.spec import demo, files, rules
from mlmeta.spec.model import ModelSpec
from mlmeta.spec.yamlload import Document, YamlProblem, parse_yaml, read_text

V1 = "v1"
DEMO = "openmetadata-demo"


@dataclass
class Locator:
    """Turns a path inside the spec into a Diagnostic at the right line and column."""

    display_path: str
    document: Document | None  # None once a valid spec let go of its positions (see forget_positions)
    conversion: demo.Conversion | None = None  # set for demo-format files: v1 paths -> demo paths
    path: Path | None = None

    def forget_positions(self, path: Path) -> None:
        """A valid spec rarely needs its positions again (a missing table, a server's refusal), and
        a run over thousands of specs should not hold them all: drop them, re-read on demand."""
        self.document, self.path = None, path

    def _positions(self) -> Document:
        if self.document is None:
            try:
                self.document = parse_yaml(read_text(self.path))
            except YamlProblem:  # the file changed under us: point at its top
                self.document = Document(None, {})
        return self.document

    def diagnostic(self, loc: tuple, code: str, message: str, *, at_key: bool = False,
                   severity: Severity = Severity.ERROR, v1_path: bool = True, named: bool = True) -> Diagnostic:
        """A finding at ``loc``; ``named`` prefixes the message with the key path as written in the file."""
        doc_loc = self.conversion.origin(loc) if (self.conversion and v1_path) else loc
        start = self._positions().locate(doc_loc, at_key=at_key).start
        if named and doc_loc:
            message = f"{dotted(doc_loc)}: {message}"
        return Diagnostic(self.display_path, start.line, start.column, code, message, severity)


@dataclass
class LoadedSpec:
    path: Path
    format: str
    spec: ModelSpec
    description: str | None  # inline, or the text of description_file
    locator: Locator
    warnings: list[Diagnostic] = field(default_factory=list)
    description_path: Path | None = None  # the real file description_file names, inside the repository

    @property
    def display_path(self) -> str:
        return self.locator.display_path

    def diagnostic(self, loc: tuple, code: str, message: str, **kwargs: Any) -> Diagnostic:
        """A finding about this spec found after loading (e.g. a missing column), at its node."""
        return self.locator.diagnostic(loc, code, message, **kwargs)


@dataclass
class LoadResult:
    spec: LoadedSpec | None
    diagnostics: list[Diagnostic]


def load_spec(path: Path, display_path: str | None = None) -> LoadResult:
    shown = display_path or str(path)
    refused = files.spec_file_problem(path)
    if refused:
        return LoadResult(None, [Diagnostic(shown, 1, 1, "F005", refused)])
    try:
        document = parse_yaml(read_text(path))
    except YamlProblem as problem:
        return LoadResult(None, [Diagnostic(shown, problem.position.line, problem.position.column,
                                            problem.code, problem.message)])
    return _validate(path, shown, document)


def load_text(text: str, path: Path, display_path: str | None = None) -> LoadResult:
    """A spec not written yet, validated as the file ``path`` would be (``mlmeta import`` checks
    what it is about to write)."""
    shown = display_path or str(path)
    try:
        document = parse_yaml(text)
    except YamlProblem as problem:
        return LoadResult(None, [Diagnostic(shown, problem.position.line, problem.position.column,
                                            problem.code, problem.message)])
    result = _validate(path, shown, document)
    if result.spec is not None:
        result.spec.locator.document = document  # there is no file to read its positions back from
    return result


def _validate(path: Path, shown: str, document: Document) -> LoadResult:
    data = document.data
    conversion = None
    if not isinstance(data, dict):
        span = document.locate(())
        return LoadResult(None, [Diagnostic(shown, span.start.line, span.start.column, "S003",
                                            f"a spec is a mapping of keys to values, not {_describe(data)}")])
    if demo.looks_like_demo(data):
        conversion = demo.to_v1(data)
        data = conversion.data
    locator = Locator(shown, document, conversion)
    diagnostics: list[Diagnostic] = []
    if conversion:  # found on the demo file's own paths
        diagnostics += [locator.diagnostic(f.loc, f.code, f.message, at_key=f.at_key, v1_path=False,
                                           named=not f.at_key) for f in conversion.findings]
    diagnostics += [locator.diagnostic(f.loc, f.code, f.message, at_key=f.at_key, severity=f.severity,
                                       named=not f.at_key) for f in rules.check(data, path.parent)]
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as error:
        for err in error.errors(include_url=False):
            loc, code, message, at_key = _translate(err)
            diagnostics.append(locator.diagnostic(loc, code, message, at_key=at_key, named=code in _NAMED_CODES))
        return LoadResult(None, _sorted(diagnostics))
    if any(d.is_error for d in diagnostics):
        return LoadResult(None, _sorted(diagnostics))
    description, description_path = spec.description, None
    if spec.description_file is not None:
        try:  # the rules confined it; it is read only now, bounded, and checked again as it is opened
            description_path = files.confine(path.parent, spec.description_file)
            description = files.read_text(description_path)
        except (OSError, files.OutsideRepository) as problem:
            return LoadResult(None, _sorted([*diagnostics, locator.diagnostic(
                ("description_file",), "F005", f"cannot be read: {problem}")]))
    loaded = LoadedSpec(path, DEMO if conversion else V1, spec, description, locator, _sorted(diagnostics),
                        description_path)
    locator.forget_positions(path)
    return LoadResult(loaded, loaded.warnings)


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics), key=lambda d: (d.line, d.column, d.code, d.message))


# --- pydantic errors -> (path, code, message, at_key) -------------------------------------------

_TYPE_NAMES = {
    "string_type": "a string", "int_type": "a whole number", "float_type": "a number", "bool_type": "true or false",
    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}


_NAMED_CODES = {"S003", "S004", "S005"}  # messages about a value: prefixed with its key path


def _translate(err: dict) -> tuple[tuple, str, str, bool]:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return loc, "S001", demo.unknown_key_message(loc[-1], _allowed_keys(loc[:-1])), True
    if kind == "missing":
        parent = dotted(loc[:-1])
        return loc[:-1], "S002", f"missing required key {loc[-1]!r}" + (f" in {parent}" if parent else ""), False
    if loc == ("mlmeta",):
        return loc, "S008", f"unsupported spec format version {value!r}: this mlmeta reads 'mlmeta: 1'", False
    if kind in _TYPE_NAMES:
        return loc, "S003", f"expected {_TYPE_NAMES[kind]}, found {_describe(value)}", False
    if kind == "fqn":
        return loc, "S005", err["msg"], False
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return loc, "S004", f"invalid value {value!r}; expected {expected}", False
    if kind == "string_too_short":
        return loc, "S004", "cannot be empty", False
    if kind == "string_pattern_mismatch" and loc[-1] == "server":
        return loc, "S004", f"{value!r} is not an http(s) URL", False
    return loc, "S004", err["msg"], False


def dotted(loc: tuple) -> str:
    """A path as people read it: ``features[0].sources[1].table``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the spec allows at ``loc``, by walking the pydantic models along the path."""
    node: Any = ModelSpec
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    node = _unwrap(node)
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def _step(node: Any, part: Any) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        info = node.model_fields.get(part)
        return info.annotation if info else None
    origin, args = typing.get_origin(node), typing.get_args(node)
    if origin is list:
        return args[0]
    if origin is dict:
        return args[1]
    return None


def _unwrap(node: Any) -> Any:
    """Strip Optional[...] and Annotated[...] down to the type that matters for keys."""
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(node) if a is not type(None)]
            if len(options) != 1:
                return node
            node = options[0]
        else:
            return node
