"""``mlmeta import FQN...``: a spec written from a model already in the catalog.

For teams that start from what the catalog holds - models published before from another
repository, or ingested by OpenMetadata's own MLflow connector. Each model's spec says what the
catalog shows: its name and display name; its description as people wrote it (the text before
mlmeta's generated section, and the model-card sections mlmeta renders, back into
``model_card``); its features with their descriptions, algorithms, tags and sources (each
``featureSources`` entry's asset and column or field); its hyperparameters' descriptions; its
owners, tags, glossary terms, domain, dashboard, algorithm, target and server; the assets its
predictions land in and its label sources, where mlmeta drew those edges.

What the registry gives on every publish is not pinned in the spec: a hyperparameter value, the
ML store's location and the algorithm are written only where they differ from the Production
version's (read from the registry when it is configured; without it, values and location are
left out, and the header says so). The connector's placeholder algorithm (``mlmodel``) is never
written.

A spec is written only when it validates, never over an existing file (``state.create_file``),
and never for a model another project owns or one a spec of this project documents already. The
catalog's text is untrusted input: it is written through the YAML emitter (quoted as needed,
never able to add a key), and the names in it go through the same checks as any spec's.
The model becomes this project's on its next publish (``mlmeta.catalog.ownership``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeta.catalog import fqn, ownership
from mlmeta.diagnostics import Diagnostic
from mlmeta.plan.describe import CARD_TITLES, GENERATED_MARKER
from mlmeta.plan.desired import LABEL_SOURCE, LINEAGE_MARKER, PREDICTIONS, is_mlmetas

STATUSES = ("written", "refused", "failed")
_KIND_KEYS = {"table": "table", "topic": "topic", "container": "container",
              "dashboardDataModel": "dashboard_data_model", "searchIndex": "search_index"}
_FIELD_KINDS = ("topic", "searchIndex")
_SAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Imported:
    model: str
    status: str  # one of STATUSES
    message: str
    path: str | None = None
    text: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "status": self.status, "message": self.message, "path": self.path,
                "spec": self.text, "diagnostics": [d.as_dict() for d in self.diagnostics]}


def import_models(models: list[str], settings: Any, *, output: Path | None = None,
                  schema_ref: str | None = None) -> list[Imported]:
    """Write one spec per model (FQN); ``output``: the file, when one model is imported."""
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog

    for model in models:
        model_name(model)  # a mistyped FQN stops the command before anything is read (exit 2)
    catalog = OpenMetadataCatalog(settings)
    project = ownership.identify(settings).name
    documented = _documented(settings)
    registry = _registry(settings)
    return [_import_one(catalog, registry, settings, model, project, documented,
                        output or _default_path(settings, model), schema_ref) for model in models]


def _documented(settings: Any) -> dict[str, str]:
    """The models this project's specs document already (FQN, case-folded -> the spec's path)."""
    from mlmeta.spec.discovery import find_spec_files
    from mlmeta.plan.desired import model_fqn
    from mlmeta.commands.validate import validate_files

    roots = [root for root in settings.spec_paths if root.exists()]
    if not roots:
        return {}
    report = validate_files(find_spec_files(roots), default_service=settings.service)
    return {model_fqn(s.spec, settings.service).casefold(): s.display_path for s in report.specs()}


def _registry(settings: Any) -> Any:
    """The project's registry when it is configured, else None (the spec then pins nothing it gives)."""
    from mlmeta.registry.table import open_registry

    return open_registry(settings) if settings.registry_address else None


def _default_path(settings: Any, model: str) -> Path:
    """``<first spec folder>/<model name>.yaml``, the name made safe for a file system."""
    from mlmeta.errors import UsageError

    folder = settings.spec_paths[0] if settings.spec_paths else Path("model_specs")
    if folder.is_file():
        raise UsageError(f"the first spec path, {folder}, is a file: say where the spec goes with -o")
    name = _SAFE_FILE.sub("_", model_name(model)).strip("._") or "model"
    return folder / f"{name}.yaml"


def model_name(model: str) -> str:
    """The name of a model FQN as typed (``service.model``), or a UsageError saying why it is not one."""
    from mlmeta.errors import UsageError

    try:
        parts = fqn.split(model)
    except fqn.FqnError as error:
        raise UsageError(f"{model!r} is not a model FQN: {error}",
                         hint='write service.model, quoting a part that holds a dot: svc."my.model"') from None
    if len(parts) != 2:
        raise UsageError(f"{model!r} is not a model FQN: an ML model's FQN is service.model ({len(parts)} parts here)")
    return parts[1]


def _import_one(catalog: Any, registry: Any, settings: Any, model: str, project: str, documented: dict[str, str],
                path: Path, schema_ref: str | None) -> Imported:
    entity = catalog.model(model, fresh=True)
    if entity is None:
        return Imported(model, "failed", "not in the catalog (or deleted)")
    model = entity.get("fullyQualifiedName") or model
    refusal = _refusal(entity, model, project, documented)
    if refusal is not None:
        return refusal
    data = spec_data(entity, catalog.edges(model), settings.service, settings.not_in_production_tag)
    loaded, problems = _validated(render(data, _header(entity, model, None)), path)
    if loaded is None:
        return Imported(model, "refused", "the spec written from the catalog does not validate", diagnostics=problems)
    facts, why = _facts(registry, loaded, settings)
    data = pin_what_differs(data, facts)
    text = render(data, _header(entity, model, why), schema_ref)
    loaded, problems = _validated(text, path)
    if loaded is None:
        return Imported(model, "refused", "the spec written from the catalog does not validate", diagnostics=problems)
    written = _write(path, text)
    if written is not None:
        return Imported(model, "refused", written, str(path))
    return Imported(model, "written", f"wrote {path}: publishing it makes {model} this project's ({project})",
                    str(path), text, problems)


def _refusal(entity: dict[str, Any], model: str, project: str, documented: dict[str, str]) -> Imported | None:
    owner = ownership.owner(entity)
    if owner and not ownership.same(owner, project):
        return Imported(model, "refused", f"it belongs to project {owner!r}: its spec is there (taking it over: "
                                          f"mlmeta adopt --from {owner} {model}, once its team agrees)")
    if model.casefold() in documented:
        return Imported(model, "refused", f"{documented[model.casefold()]} documents it already")
    return None


def _validated(text: str, path: Path) -> tuple[Any, list[Diagnostic]]:
    """The spec the text is, validated as if it were at ``path`` (nothing is written yet)."""
    from mlmeta.spec.discovery import display_path
    from mlmeta.spec.load import load_text

    result = load_text(text, path, display_path(path))
    return result.spec, result.diagnostics


def _facts(registry: Any, loaded: Any, settings: Any) -> tuple[Any, str | None]:
    """The Production version's facts, or None and why not."""
    from mlmeta.registry.table import registry_label, wanted_of
    from mlmeta.registry.types import RegistryError

    if registry is None:
        return None, f"{registry_label(settings)} is not configured"
    try:
        promotion = registry.promotion(wanted_of(loaded.spec, settings))
        if promotion is None:
            return None, f"no version of {loaded.spec.registered_model!r} is in Production"
        return registry.facts(promotion), None
    except RegistryError as error:
        if error.transient:
            from mlmeta.errors import ServerError

            raise ServerError(f"{registry_label(settings)} could not answer: {error}") from None
        return None, str(error)


def _write(path: Path, text: str) -> str | None:
    """Create the file (never over one, never through a symlink); why not, or None."""
    from mlmeta import state
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        state.create_file(path, text.encode("utf-8"))
    except FileExistsError:
        return f"{path} exists; mlmeta import never overwrites a file (choose another with -o, or move it away)"
    except OSError as error:
        return f"cannot write {path}: {error.strerror or error}"
    return None


# --- the spec, as data (pure) ----------------------------------------------------------------------


def spec_data(entity: dict[str, Any], edges: list[Any], default_service: str | None,
              retire_tag: str | None = None) -> dict[str, Any]:
    """The spec of a catalog model, in the order a person reads one."""
    name = entity["name"]
    service = (entity.get("service") or {}).get("fullyQualifiedName") or fqn.split(entity["fullyQualifiedName"])[0]
    data: dict[str, Any] = {"mlmeta": 1, "name": name}
    if entity.get("displayName") and entity["displayName"] != name:
        data["display_name"] = entity["displayName"]
    if service != default_service:
        data["service"] = service
    human, card = split_description(entity.get("description") or "")
    if human:
        data["description"] = human
    registry = _registry_block(entity, name)
    if registry:
        data["mlflow"] = registry
    if entity.get("algorithm") and entity["algorithm"] != ownership.CONNECTOR_ALGORITHM:
        data["algorithm"] = entity["algorithm"]
    for key in ("target", "server"):
        if entity.get(key):
            data[key] = entity[key]
    if (entity.get("dashboard") or {}).get("fullyQualifiedName"):
        data["dashboard"] = entity["dashboard"]["fullyQualifiedName"]
    owners = _owners(entity.get("owners"))
    if owners:
        data["owners"] = owners
    data.update(_labels(entity.get("tags"), retire_tag))
    domains = [d.get("fullyQualifiedName") for d in entity.get("domains") or [] if d.get("fullyQualifiedName")]
    if domains:
        data["domain"] = domains[0]
    if card:
        data["model_card"] = card
    data["features"] = [_feature(f) for f in entity.get("mlFeatures") or []]
    parameters = {p["name"]: {"description": p["description"]} for p in entity.get("mlHyperParameters") or []
                  if p.get("name") and p.get("description")}
    if parameters:
        data["hyperparameters"] = parameters
    image = (entity.get("mlStore") or {}).get("imageRepository")
    if image:
        data["ml_store"] = {"image_repository": image}
    data["_catalog"] = entity  # what pin_what_differs compares with (never rendered)
    data.update(_lineage(entity["fullyQualifiedName"], edges, [f["name"] for f in data["features"]]))
    return data


def split_description(text: str) -> tuple[str, dict[str, str]]:
    """(the human part, the model-card sections mlmeta rendered from ``model_card``) of a description."""
    end = text.find(f"---\n{GENERATED_MARKER}")
    text = (text[:end] if end >= 0 else text).strip()
    keys = {title: key for key, title in CARD_TITLES.items()}
    found = [(m.start(), m.end(), keys[m.group(1)]) for m in
             re.finditer(r"(?:^|\n\n)## (" + "|".join(map(re.escape, keys)) + r")\n\n", text)]
    card = {}
    for i, (_, body_start, key) in enumerate(found):
        body_end = found[i + 1][0] if i + 1 < len(found) else len(text)
        card[key] = text[body_start:body_end].strip()
    human = text[:found[0][0]].strip() if found else text
    return human, {k: v for k, v in card.items() if v}


def _registry_block(entity: dict[str, Any], name: str) -> dict[str, str]:
    """``mlflow:`` as the model records it: the registered model (when not the name) and the alias or
    stage that made the version Production (when not the defaults)."""
    from mlmeta.config import DEFAULT_ALIAS
    from mlmeta.spec.model import DEFAULT_STAGE

    extension = entity.get("extension") or {}
    registered = extension.get("mlflowRegisteredModel") or ownership.connector_registered_model(entity) or name
    block = {}
    if registered != name:
        block["registered_model"] = registered
    if extension.get("mlflowAlias") and extension["mlflowAlias"] != DEFAULT_ALIAS:
        block["alias"] = extension["mlflowAlias"]
    if extension.get("mlflowStage") and extension["mlflowStage"] != DEFAULT_STAGE:
        block["stage"] = extension["mlflowStage"]
    return block


def _owners(refs: list[dict[str, Any]] | None) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for ref in refs or []:
        kind = {"user": "users", "team": "teams"}.get(ref.get("type", ""))
        if kind and ref.get("name"):
            owners.setdefault(kind, []).append(ref["name"])
    return owners


def _labels(labels: list[dict[str, Any]] | None, retire_tag: str | None) -> dict[str, list[str]]:
    """Classification tags and glossary terms (the retirement mark's tag left out: publish drops it)."""
    found: dict[str, list[str]] = {}
    for label in labels or []:
        tag = label.get("tagFQN")
        if not tag or (retire_tag and fqn.normalize(tag) == fqn.normalize(retire_tag)):
            continue
        found.setdefault("glossary_terms" if label.get("source") == "Glossary" else "tags", []).append(tag)
    return found


def _feature(feature: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"name": feature["name"],
                            "type": feature.get("dataType") if feature.get("dataType") in ("numerical", "categorical")
                            else "numerical"}
    for key, entity_key in (("description", "description"), ("algorithm", "featureAlgorithm")):
        if feature.get(entity_key):
            item[key] = feature[entity_key]
    tags = [t["tagFQN"] for t in feature.get("tags") or [] if t.get("tagFQN")]
    if tags:
        item["tags"] = tags
    item["sources"] = [source for source in (_source(s) for s in feature.get("featureSources") or []) if source]
    return item


def _source(source: dict[str, Any]) -> dict[str, Any] | None:
    """A feature source as a spec writes it: the asset, and the column or field (none: the whole asset)."""
    asset = source.get("dataSource") or {}
    kind = _KIND_KEYS.get(asset.get("type", "table"))
    asset_fqn = asset.get("fullyQualifiedName")
    if kind is None or not asset_fqn:
        return None
    item: dict[str, Any] = {kind: asset_fqn}
    name = source.get("name")
    if name and not (name == fqn.split(asset_fqn)[-1] and not source.get("dataType")):
        item["field" if asset.get("type") in _FIELD_KINDS else "column"] = name
    if source.get("description"):
        item["description"] = source["description"]
    return item


def _lineage(model: str, edges: list[Any], features: list[str]) -> dict[str, Any]:
    """``outputs`` and ``label_sources`` from the edges mlmeta drew for them (others' edges are theirs)."""
    outputs, labels = [], []
    for edge in edges:
        text = (edge.details or {}).get("description") or ""
        kind = _KIND_KEYS.get(edge.asset_type)
        if LINEAGE_MARKER not in text or kind is None:
            continue
        if edge.downstream and _role_text(model, PREDICTIONS) in text:
            outputs += _outputs(edge, kind, model, features)
        elif not edge.downstream and _role_text(model, LABEL_SOURCE) in text:
            labels.append({kind: edge.asset_fqn})
    found: dict[str, Any] = {}
    if labels:
        found["label_sources"] = labels
    if outputs:
        found["outputs"] = outputs
    return found


def _role_text(model: str, role: str) -> str:
    """How an edge mlmeta drew says it stands for ``role`` ("Predictions of svc.m"), as publish writes it."""
    from mlmeta.catalog.records import Ref
    from mlmeta.plan.desired import WantedEdge
    from mlmeta.plan.lineage import description

    said = description(model, WantedEdge(Ref("", "table", "", ""), roles=(role,)))
    return said.removesuffix(f" ({LINEAGE_MARKER})")


def _outputs(edge: Any, kind: str, model: str, features: list[str]) -> list[dict[str, Any]]:
    mapping = (edge.details or {}).get("columnsLineage") or []
    if not mapping:
        return [{kind: edge.asset_fqn}]
    found = []
    prefix = fqn.split(model)
    for pair in mapping:
        target = pair.get("toColumn") or ""
        child = ".".join(fqn.split(target)[len(fqn.split(edge.asset_fqn)):])
        item: dict[str, Any] = {kind: edge.asset_fqn, "field" if edge.asset_type in _FIELD_KINDS else "column": child}
        used = [fqn.split(c)[-1] for c in pair.get("fromColumns") or [] if fqn.split(c)[:len(prefix)] == prefix]
        if sorted(used) != sorted(features):
            item["features"] = used
        found.append(item)
    return found


def pin_what_differs(data: dict[str, Any], facts: Any) -> dict[str, Any]:
    """Hyperparameter values, the ML store's location and the algorithm, written only where the
    catalog's differ from what publish derives from the Production version (``facts``); without
    facts, the algorithm as the catalog shows it, and no values. What the MLflow connector wrote
    is its reading of the newest version, not anyone's choice: never pinned."""
    entity = data["_catalog"]
    result = {k: v for k, v in data.items() if k != "_catalog"}
    if facts is None or ownership.by_connector(entity):  # the connector's are the newest version's: never pinned
        return result
    if result.get("algorithm") == facts.algorithm:
        del result["algorithm"]
    parameters = dict(result.get("hyperparameters") or {})
    for item in entity.get("mlHyperParameters") or []:
        value = item.get("value")
        if item.get("name") and value is not None and facts.params.get(item["name"]) != value:
            parameters[item["name"]] = {"value": value, **parameters.get(item["name"], {})}
    if parameters:
        result["hyperparameters"] = parameters
    storage = (entity.get("mlStore") or {}).get("storage")
    if storage and storage != facts.artifact_uri:
        result["ml_store"] = {"storage": storage, **(result.get("ml_store") or {})}
    return result


# --- the text -------------------------------------------------------------------------------------


def _header(entity: dict[str, Any], model: str, no_facts: str | None) -> list[str]:
    """The comment lines above the spec: where it came from, and what is left to do."""
    if is_mlmetas(entity):
        origin = "published by mlmeta"
    elif ownership.by_connector(entity):
        origin = "ingested by OpenMetadata's MLflow connector"
    else:
        origin = "made by hand or by another tool"
    lines = [f"Written by `mlmeta import {model}` from the catalog (the model was {origin}).",
             "Publishing it makes the model this project's: its owner is recorded, and prune may delete it later."]
    if ownership.by_connector(entity):
        lines.append("TODO: the connector records no feature sources: add them, and exclude this registered model from "
                     "the connector (mlModelFilterPattern), or it writes its fields back.")
    if no_facts:
        lines.append(f"Hyperparameter values and the ML store's location are left to the registry ({no_facts}).")
    return lines


# What only a double-quoted scalar holds as it is, escaped: a character YAML does not allow in a file,
# or one YAML 1.1 reads as a line break besides \n (\r, NEL, U+2028, U+2029) - PyYAML's emitter
# folds NEL in a single-quoted scalar into a space, and in a block it would end a line early.
_ESCAPED = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(data: dict[str, Any], header: list[str], schema_ref: str | None = None) -> str:
    """The spec as YAML, through the emitter: every value quoted as it needs, multi-line texts as
    literal blocks where YAML allows one, double-quoted with escapes where only that holds them."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: Any, value: str) -> Any:
        style = '"' if _ESCAPED.search(value) else "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    shown = {k: v for k, v in data.items() if k != "_catalog"}
    body = yaml.dump(shown, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    comments = ([f"# yaml-language-server: $schema={schema_ref}"] if schema_ref else []) + [f"# {_readable(line)}"
                                                                                            for line in header]
    return "\n".join(comments) + "\n" + body


def _readable(line: str) -> str:
    """A comment line as it can be trusted: a catalog name's line break or control character would
    end the comment and start YAML, so every character that is not printable is escaped."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in line)
