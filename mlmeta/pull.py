"""``mlmeta pull``: texts improved in the catalog's UI, written back into the specs.

For each spec whose model mlmeta published, the texts the spec manages are compared with the
catalog's: the model's description (the human part - what comes before the model-card sections
and the generated section), each feature description the spec sets, each hyperparameter
description the spec sets. A text the spec does not set stays the catalog's to manage and is not
pulled. Differences are written into the spec - inline, or into its ``description_file`` - with
ruamel.yaml's round trip, which keeps comments, key order, quoting and indentation: outside the
changed values, the file stays as it was, byte for byte. ``--dry-run`` shows the unified diff and
writes nothing. After a pull, ``plan`` shows no change for those texts.
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta.config import Settings
from mlmeta.plan.describe import CARD_TITLES, GENERATED_MARKER
from mlmeta.plan.desired import is_mlmetas, model_fqn
from mlmeta.spec.load import LoadedSpec
from mlmeta.validate import FileReport


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

    @property
    def changes(self) -> list[TextChange]:
        return [c for p in self.pulls for c in p.changes]

    @property
    def exit_code(self) -> int:
        return 1 if self.invalid else 0


def pull(files: list[Path], settings: Settings, *, dry_run: bool, registered_model: str | None = None) -> PullReport:
    from mlmeta.adapters.openmetadata import OpenMetadataCatalog
    from mlmeta.validate import validate_files

    validation = validate_files(files, default_service=settings.service, service_required=True)
    specs = [s for s in validation.specs() if registered_model in (None, s.spec.registered_model)]
    report = PullReport(dry_run, invalid=[f for f in validation.files if not f.valid])
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
        target = loaded.path.parent / loaded.spec.description_file
        change = next(c for c in changes if c.what == "description")
        result.diffs.append(_write(target, target.read_text(encoding="utf-8"), change.after + "\n", dry_run))
        spec_changes = [c for c in changes if c.what != "description"]
    if spec_changes:
        text = loaded.path.read_text(encoding="utf-8")
        result.diffs.append(_write(loaded.path, text, _edited(text, spec_changes), dry_run))
    return result


def _edited(text: str, changes: list[TextChange]) -> str:
    """The spec's text with these values replaced, everything else kept (ruamel's round trip)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString
    from ruamel.yaml.util import load_yaml_guess_indent

    _, sequence_indent, dash_offset = load_yaml_guess_indent(text)
    yaml = YAML()  # round-trip: comments, order, quotes, anchors survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    # ruamel guesses the sequences' indentation; a mapping's own is measured here, as written
    yaml.indent(mapping=_mapping_indent(text), sequence=sequence_indent or 2, offset=dash_offset or 0)
    data = yaml.load(text)
    for change in changes:
        value = LiteralScalarString(change.after + "\n") if "\n" in change.after else change.after
        if change.what == "description":
            data["description"] = value
        elif change.what.startswith("features["):
            index = int(change.what[len("features["):].split("]")[0])
            data["features"][index]["description"] = value
        else:
            name = change.what[len("hyperparameters."):-len(".description")]
            data["hyperparameters"][name]["description"] = value
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _mapping_indent(text: str) -> int:
    """How far the file indents a nested mapping's keys (the smallest indent of a key line)."""
    indents = [len(m.group(1)) for m in re.finditer(r"^( +)[^\s#\-][^:\n]*:", text, re.M)]
    return min(indents) if indents else 2


def _write(path: Path, before: str, after: str, dry_run: bool) -> str:
    diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
    if not dry_run and after != before:
        path.write_text(after, encoding="utf-8")
    return diff
