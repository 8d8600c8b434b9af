"""The baseline: the request pattern of OpenMetadata's ML-model CI/CD demo (mlmodel_cicd.py).

Written here from the demo's description, against the same SDK: for every model, sequentially,
look up each feature source's table by FQN (no cache), look up the ML model service,
``create_or_update`` the model, then ``add_mlmodel_lineage`` (per source: a GET of the model,
a lineage PUT and a lineage GET; then a lineage GET of the model). It reads the specs' tables
and columns the way the demo's YAML names them: the column as the source name, the table FQN
as ``dataSourceFqn``.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def _sources(feature: dict) -> list[tuple[str, str]]:
    pairs = []
    for source in feature.get("sources") or []:
        if "table" in source:
            pairs.append((source["table"], source.get("column") or source["table"].split(".")[-1]))
        else:
            parts = source["column"].split(".")
            pairs.append((".".join(parts[:4]), parts[4]))
    return pairs


def publish_all(client, spec_paths: list[Path], default_service: str = "mlflow_models") -> None:
    """``client``: an OpenMetadata SDK client (e.g. ``Sandbox.client()``); ``default_service`` for
    specs that leave the service to the project's configuration (the demo's files always name it)."""
    from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
    from metadata.generated.schema.entity.data.mlmodel import FeatureSource, MlFeature
    from metadata.generated.schema.entity.data.table import Table
    from metadata.generated.schema.entity.services.mlmodelService import MlModelService
    from metadata.generated.schema.type.entityReference import EntityReference

    for path in spec_paths:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        features = []
        for feature in spec["features"]:
            sources = []
            for table_fqn, column in _sources(feature):
                table = client.get_by_name(Table, table_fqn)
                reference = EntityReference(id=table.id, type="table", name=table.name.root,
                                            fullyQualifiedName=table.fullyQualifiedName.root)
                sources.append(FeatureSource(name=column, dataSource=reference))
            features.append(MlFeature(name=feature["name"], dataType=feature["type"],
                                      featureAlgorithm=feature.get("algorithm"), featureSources=sources))
        service = spec.get("service", default_service)
        client.get_by_name(MlModelService, service)
        model = client.create_or_update(CreateMlModelRequest(
            name=spec["name"], service=service, description=spec.get("description"),
            target=spec.get("target"), algorithm="GradientBoostingRegressor", mlFeatures=features))
        client.add_mlmodel_lineage(model)
