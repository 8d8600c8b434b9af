"""``mlmeta convert``: rewrite a demo-format file (see ``demo``) as a v1 spec, comments on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlmeta.spec.load import DEMO, LoadedSpec

# the order in which a person reads a spec
KEY_ORDER = ("mlmeta", "name", "display_name", "service", "description", "description_file", "mlflow",
             "algorithm", "target", "server", "dashboard", "owners", "tags", "glossary_terms", "domain",
             "model_card", "features", "hyperparameters", "ml_store")


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # indent list items under their key, as people write specs
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def v1_data(loaded: LoadedSpec) -> dict[str, Any]:
    """The spec as v1 data with only the keys that were set, in reading order."""
    data = loaded.spec.model_dump(mode="json", exclude_unset=True)
    return {key: data[key] for key in KEY_ORDER if key in data}


def to_v1_yaml(loaded: LoadedSpec, schema_ref: str | None) -> str:
    header = []
    if schema_ref:
        header.append(f"# yaml-language-server: $schema={schema_ref}")
    if loaded.format == DEMO:
        header.append(f"# Converted from {Path(loaded.display_path).name} (OpenMetadata demo format) by mlmeta convert.")
        header.append("# Add 'mlflow:' if the registered model is not named like the model.")
    body = yaml.dump(v1_data(loaded), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    return "\n".join(header) + ("\n" if header else "") + body
