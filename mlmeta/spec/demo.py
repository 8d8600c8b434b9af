"""Files in the shape of OpenMetadata's ML-model CI/CD demo (``ml_model.yaml``), read as v1 specs.

That demo's YAML mirrors the entity: ``serviceName``, ``mlFeatures[].featureSources[]
.dataSourceFqn``, ``mlHyperParameters`` and so on. ``to_v1`` rewrites such data into the v1
shape and returns a map from each v1 path back to the demo path it came from, so that the one
v1 validator reports errors at the right line of the demo file. ``mlmeta convert`` writes the
result out for teams moving over.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.spec.rules import Finding

# demo key -> v1 key, for each level of the document
TOP_KEYS = {
    "serviceName": "service", "name": "name", "displayName": "display_name", "description": "description",
    "algorithm": "algorithm", "target": "target", "server": "server", "dashboard": "dashboard",
    "mlFeatures": "features", "mlHyperParameters": "hyperparameters", "mlStore": "ml_store",
}
FEATURE_KEYS = {"name": "name", "dataType": "type", "description": "description",
                "featureAlgorithm": "algorithm", "featureSources": "sources"}
SOURCE_KEYS = {"name": "name", "dataType": "data_type", "description": "description", "dataSourceFqn": "table"}
HYPERPARAMETER_KEYS = {"name", "value", "description"}
STORE_KEYS = {"storage": "storage", "imageRepository": "image_repository"}


def looks_like_demo(data: Any) -> bool:
    return isinstance(data, dict) and "mlmeta" not in data and ("mlFeatures" in data or "serviceName" in data)


@dataclass
class Conversion:
    data: dict[str, Any]
    origins: dict[tuple, tuple] = field(default_factory=dict)  # v1 path -> demo path
    findings: list[Finding] = field(default_factory=list)  # located at demo paths

    def origin(self, loc: tuple) -> tuple:
        """The demo path a v1 path came from (the nearest mapped parent, plus what follows)."""
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.origins:
                return self.origins[loc[:cut]] + tuple(loc[cut:])
        return tuple(loc)


def to_v1(data: dict[str, Any]) -> Conversion:
    conv = Conversion({"mlmeta": 1})
    conv.origins[("mlmeta",)] = ()
    _rename(conv, data, TOP_KEYS, (), ())
    features = data.get("mlFeatures")
    if isinstance(features, list):
        conv.data["features"] = [_feature(conv, item, i) for i, item in enumerate(features)]
    params = data.get("mlHyperParameters")
    if isinstance(params, list):
        conv.data["hyperparameters"] = _hyperparameters(conv, params)
    store = data.get("mlStore")
    if isinstance(store, dict):
        conv.data["ml_store"] = _rename(conv, store, STORE_KEYS, ("mlStore",), ("ml_store",))
    return conv


def _rename(conv: Conversion, data: dict, keys: dict[str, str], src: tuple, dst: tuple) -> dict:
    """Copy known keys under their v1 names; report unknown ones with a suggestion."""
    out = conv.data if not dst else {}
    conv.origins[dst] = src
    for key, value in data.items():
        if key not in keys:
            conv.findings.append(_unknown_key(src + (key,), key, list(keys)))
            continue
        out[keys[key]] = value
        conv.origins[dst + (keys[key],)] = src + (key,)
    return out


def _feature(conv: Conversion, item: Any, i: int) -> Any:
    if not isinstance(item, dict):
        conv.origins[("features", i)] = ("mlFeatures", i)
        return item
    feature = _rename(conv, item, FEATURE_KEYS, ("mlFeatures", i), ("features", i))
    sources = item.get("featureSources")
    if isinstance(sources, list):
        converted = [_source(conv, s, ("mlFeatures", i, "featureSources", j), ("features", i, "sources", j))
                     for j, s in enumerate(sources)]
        feature["sources"] = [s for s in converted if s is not None]
    return feature


def _source(conv: Conversion, item: Any, src: tuple, dst: tuple) -> Any | None:
    if not isinstance(item, dict):
        conv.origins[dst] = src
        return item
    source = _rename(conv, item, SOURCE_KEYS, src, dst)
    name = source.pop("name", None)
    if "table" not in source:
        conv.findings.append(Finding(src, "S002", "missing required key 'dataSourceFqn': the table the source is in"))
        return None  # reported here; the v1 validation would only repeat it
    # the demo names a source after its column, or after the table itself for a whole table
    if name is not None and not (isinstance(source["table"], str) and _is_table_name(source["table"], name)):
        source = {"table": source["table"], "column": name, **source}
        conv.origins[dst + ("column",)] = src + ("name",)
    return source


def _is_table_name(table_fqn: str, name: Any) -> bool:
    try:
        return fqn.split(table_fqn)[-1] == name
    except fqn.FqnError:
        return False


def _hyperparameters(conv: Conversion, items: list) -> Any:
    result: dict[str, Any] = {}
    conv.origins[("hyperparameters",)] = ("mlHyperParameters",)
    for k, item in enumerate(items):
        src = ("mlHyperParameters", k)
        if not isinstance(item, dict):
            conv.findings.append(Finding(src, "S003", "expected a mapping with 'name', 'value' and 'description'"))
            continue
        for key in item:
            if key not in HYPERPARAMETER_KEYS:
                conv.findings.append(_unknown_key(src + (key,), key, sorted(HYPERPARAMETER_KEYS)))
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            conv.findings.append(Finding(src, "S002", "a hyperparameter needs a non-empty 'name'"))
            continue
        if name in result:
            conv.findings.append(Finding(src + ("name",), "S006", f"duplicate hyperparameter {name!r}"))
            continue
        result[name] = {key: item[key] for key in ("value", "description") if key in item}
        conv.origins[("hyperparameters", name)] = src
        for key in result[name]:
            conv.origins[("hyperparameters", name, key)] = src + (key,)
    return result


def _unknown_key(loc: tuple, key: str, allowed: list[str]) -> Finding:
    return Finding(loc, "S001", unknown_key_message(key, allowed), at_key=True)


def unknown_key_message(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
