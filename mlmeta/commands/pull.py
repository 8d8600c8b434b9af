"""``mlmeta pull``: texts improved in the catalog's UI, written back into the specs.

For each spec whose model mlmeta published, the texts the spec manages are compared with the
catalog's: the model's description (the human part - what comes before the model-card sections
and the generated section), each feature description the spec sets, each hyperparameter
description the spec sets. A text the spec does not set stays the catalog's to manage and is not
pulled. Differences are written into the spec - inline, or into its ``description_file`` - by
splicing each new value into the text where the old one is written: outside the changed values,
the file stays as it was, byte for byte (comments, document markers, quoting, flow lists,
indentation). ``--dry-run`` shows the unified diff and writes nothing. After a pull, ``plan``
shows no change for those texts.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta import state
from mlmeta.config import Settings
from mlmeta.spec.discovery import display_path
from mlmeta.plan.describe import CARD_TITLES, GENERATED_MARKER
from mlmeta.plan.desired import is_mlmetas, model_fqn
from mlmeta.spec.load import LoadedSpec
from mlmeta.commands.validate import FileReport

_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class TextChange:
    spec: str
    what: str  # "description", "features[2].description", "hyperparameters.n_estimators.description"
    before: str
    after: str


@dataclass
class SpecPull:
    loaded: LoadedSpec
    changes: list[TextChange] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)  # unified diffs of the files written (or to write)


@dataclass
class PullReport:
    dry_run: bool
    pulls: list[SpecPull] = field(default_factory=list)
    invalid: list[FileReport] = field(default_factory=list)
    checked: int = 0
    warnings: list[str] = field(default_factory=list)  # about the run, not one spec

    @property
    def changes(self) -> list[TextChange]:
        return [c for p in self.pulls for c in p.changes]

    @property
    def exit_code(self) -> int:
        return 1 if self.invalid else 0


def pull(files: list[Path], settings: Settings, *, dry_run: bool, registered_model: str | None = None) -> PullReport:
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog
    from mlmeta.commands.validate import validate_files

    validation = validate_files(files, default_service=settings.service, service_required=True)
    specs, warnings = validation.specs_of(registered_model)
    report = PullReport(dry_run, invalid=[f for f in validation.files if not f.valid], warnings=warnings)
    if not specs:
        return report
    catalog = OpenMetadataCatalog(settings)
    catalog.prefetch_models(sorted({s.spec.service or settings.service for s in specs}))
    for loaded in specs:
        report.checked += 1
        entity = catalog.model(model_fqn(loaded.spec, loaded.spec.service or settings.service))
        if entity is None or not is_mlmetas(entity):
            continue  # nothing mlmeta published: nothing to take back
        changes = texts_to_pull(loaded, entity)
        if changes:
            report.pulls.append(_apply(loaded, changes, dry_run))
    return report


def human_part(description: str, card_titles: list[str]) -> str:
    """The spec's own text inside a rendered description: what precedes the model card's
    sections and the generated section."""
    end = description.find(f"---\n{GENERATED_MARKER}")
    text = description[:end] if end >= 0 else description
    for title in card_titles:
        heading = text.find(f"## {title}\n")
        if heading >= 0 and (heading == 0 or text[heading - 2:heading] == "\n\n"):
            text = text[:heading]
    return text.strip()


def texts_to_pull(loaded: LoadedSpec, entity: dict[str, Any]) -> list[TextChange]:
    spec, shown = loaded.spec, loaded.display_path
    changes = []
    if spec.description is not None or spec.description_file is not None:
        card = spec.model_card
        titles = ([title for key, title in CARD_TITLES.items() if card and getattr(card, key)]
                  + list(card.custom_sections if card else []))
        catalog_text = human_part(entity.get("description") or "", titles)
        mine = (loaded.description or "").strip()
        if catalog_text and catalog_text != mine:
            changes.append(TextChange(shown, "description", mine, catalog_text))
    features = {f.get("name"): f for f in entity.get("mlFeatures") or []}
    for i, feature in enumerate(spec.features):
        theirs = (features.get(feature.name) or {}).get("description")
        if feature.description is not None and theirs and theirs.strip() != feature.description.strip():
            changes.append(TextChange(shown, f"features[{i}].description", feature.description, theirs.strip()))
    parameters = {p.get("name"): p for p in entity.get("mlHyperParameters") or []}
    for name, parameter in (spec.hyperparameters or {}).items():
        theirs = (parameters.get(name) or {}).get("description")
        if parameter.description is not None and theirs and theirs.strip() != parameter.description.strip():
            changes.append(TextChange(shown, f"hyperparameters.{name}.description", parameter.description,
                                      theirs.strip()))
    return changes


def _apply(loaded: LoadedSpec, changes: list[TextChange], dry_run: bool) -> SpecPull:
    result = SpecPull(loaded, changes)
    spec_changes = list(changes)
    if loaded.spec.description_file is not None and any(c.what == "description" for c in changes):
        target = loaded.description_path  # resolved and confined to the repository when the spec was loaded
        change = next(c for c in changes if c.what == "description")
        result.diffs.append(_write(target, target.read_text(encoding="utf-8"), change.after + "\n", dry_run))
        spec_changes = [c for c in changes if c.what != "description"]
    if spec_changes:
        conversion = loaded.locator.conversion  # a demo-format file: its keys are named differently
        located = [(conversion.origin(_loc(c.what)) if conversion else _loc(c.what), c.after) for c in spec_changes]
        real = Path(os.path.realpath(loaded.path))  # a symlinked spec is edited where it really is
        text = real.read_text(encoding="utf-8")
        result.diffs.append(_write(real, text, edited(text, located), dry_run))
    return result


def _loc(what: str) -> tuple:
    """Where a change's value sits in a v1 spec: ``features[2].description`` -> ("features", 2, "description")."""
    if what.startswith("features["):
        return "features", int(what[len("features["):].split("]")[0]), "description"
    if what.startswith("hyperparameters."):
        return "hyperparameters", what[len("hyperparameters."):-len(".description")], "description"
    return (what,)


def edited(text: str, changes: list[tuple[tuple, str]]) -> str:
    """The text with the values at these places (paths of keys and indexes) replaced, and every
    other character as it was.

    The new values are spliced in where the old ones are written, as PyYAML's marks say: a round
    trip through a YAML library re-emits the whole document, and even ruamel.yaml's drops
    comments before a ``---``, respaces flow lists and re-indents blocks."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure loader: its marks count characters
    step = _mapping_indent(text)
    splices = []
    for loc, value in changes:
        key, node, in_flow = _node_at(root, loc)
        splices.append(_splice(text, node, value, key.start_mark.column + step, in_flow))
    for start, end, replacement in sorted(splices, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _node_at(root: Any, loc: tuple) -> tuple[Any, Any, bool]:
    """(key node, value node, inside a flow collection) of the value at ``loc``."""
    import yaml

    key, node, in_flow = None, root, False
    for part in loc:
        in_flow = in_flow or bool(node.flow_style)
        if isinstance(node, yaml.SequenceNode):
            node = node.value[part]
        else:
            key, node = _entry(node, part)
    return key, node, in_flow


def _entry(mapping: Any, name: str) -> tuple[Any, Any]:
    """A mapping's key and value nodes for ``name``; keys merged in (``<<: *defaults``) after its own."""
    import yaml

    merged = []
    for key, value in mapping.value:
        if key.tag == _MERGE:
            merged += value.value if isinstance(value, yaml.SequenceNode) else [value]
        elif key.value == name:
            return key, value
    for source in merged:
        try:
            return _entry(source, name)
        except KeyError:
            continue
    raise KeyError(name)


# What a block or plain scalar cannot hold as written: a character YAML does not allow in a file
# (control characters, surrogates), or one YAML 1.1 reads as a line break besides \n (\r, NEL, the
# Unicode line and paragraph separators) - it would end a block early, and what follows could
# become a key of the spec.
_UNWRITTEN = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _splice(text: str, node: Any, value: str, indent: int, in_flow: bool) -> tuple[int, int, str]:
    """(start, end, replacement) that puts ``value`` where ``node`` is written. A block scalar stays
    one; a multi-line text becomes one (a literal block, indented ``indent``); a trailing comment
    stays on the value's line, at its column when there is room."""
    start = node.start_mark.index
    blank_with_spaces = any(line and not line.strip() for line in value.split("\n"))  # a block would drop them
    if _UNWRITTEN.search(value) or blank_with_spaces:  # only a double-quoted scalar holds it as it is, escaped
        if node.style in ("|", ">"):
            start, end, _ = _block_splice(text, node, value, indent)
            return start, end, _flow_scalar(value, '"', in_flow) + ("\n" if text[end - 1:end] == "\n" else "")
        return start, node.end_mark.index, _flow_scalar(value, '"', in_flow)
    if node.style in ("|", ">"):
        return _block_splice(text, node, value, indent)
    end = node.end_mark.index
    if "\n" in value and not in_flow:
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        comment = text[end:line_end].strip()
        header = "|" + (" " + comment if comment else "")
        newline = "\n" if line_end < len(text) else ""
        return start, line_end + len(newline), header + "\n" + _indented(value, indent) + newline
    old, new = text[start:end], _flow_scalar(value, node.style, in_flow)
    gap = re.match(r"( +)#", text[end:])
    if gap and "\n" not in old:  # keep the comment's column
        end += len(gap.group(1))
        new += " " * max(1, len(gap.group(1)) + len(old) - len(new))
    return start, end, new


def _block_splice(text: str, node: Any, value: str, indent: int) -> tuple[int, int, str]:
    """A block scalar's new content, at the indentation its content had; its header's chomping
    and comment are kept, and so are the blank lines after it (PyYAML's span includes them)."""
    start = node.start_mark.index
    header_end = text.index("\n", start)
    header = re.match(r"[|>]([-+]?)\d?([-+]?)(.*)", text[start:header_end])
    last = start + len(text[start:node.end_mark.index].rstrip())
    end = text.find("\n", last)
    end = len(text) if end < 0 else end + 1
    lines = [line for line in text[header_end + 1:end].split("\n") if line.strip()]
    if lines:
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
    newline = "\n" if text[end - 1:end] == "\n" else ""
    return start, end, (f"|{header.group(1) or header.group(2)}{header.group(3)}\n" + _indented(value, indent)
                        + newline)


def _indented(value: str, indent: int) -> str:
    return "\n".join(" " * indent + line if line.strip() else "" for line in value.split("\n"))


def _flow_scalar(value: str, style: str | None, in_flow: bool) -> str:
    """The value on one line: in the old value's quotes if it had some, plain where YAML reads it
    back the same, else quoted."""
    import yaml

    if "\n" in value or (in_flow and style not in ("'", '"') and re.search(r"[,\[\]{}]", value)):
        style = '"'  # a line break has no other one-line form; a flow collection ends at these
    dumped = yaml.safe_dump(value, default_style=style or None, width=float("inf"), allow_unicode=True)
    return dumped.removesuffix("\n...\n").removesuffix("\n")


def _mapping_indent(text: str) -> int:
    """How far the file indents a nested mapping's keys (the smallest indent of a key line)."""
    indents = [len(m.group(1)) for m in re.finditer(r"^( +)[^\s#\-][^:\n]*:", text, re.M)]
    return min(indents) if indents else 2


def _write(path: Path, before: str, after: str, dry_run: bool) -> str:
    diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{display_path(path)}", tofile=f"b/{display_path(path)}"))
    if not dry_run and after != before:
        # replaced, not written through: a symlink swapped in since loading is replaced, not followed
        state.replace_file(path, after.encode("utf-8"))
    return diff
