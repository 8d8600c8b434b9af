"""The sandbox's seed catalog as the contract tests use it: a table's reference, a model's create
request, a raw request as a user. The SDK is imported where it is used: importing it costs seconds."""

from __future__ import annotations

import requests

TABLES = "demo_pg.postgres.public"


def table_ref(om, name: str) -> EntityReference:
    from metadata.generated.schema.entity.data.table import Table
    from metadata.generated.schema.type.entityReference import EntityReference

    table = om.get_by_name(Table, f"{TABLES}.{name}")
    return EntityReference(id=table.id, type="table", name=table.name.root,
                           fullyQualifiedName=table.fullyQualifiedName.root)


def model_request(om, name: str = "churn", **overrides) -> CreateMlModelRequest:
    from metadata.generated.schema.api.data.createMlModel import CreateMlModelRequest
    from metadata.generated.schema.entity.data.mlmodel import FeatureSource, MlFeature, MlHyperParameter

    users, orders = table_ref(om, "users"), table_ref(om, "orders")
    fields = dict(
        name=name, service="mlflow_models", algorithm="GradientBoosting", description="Predicts churn.",
        target="churned",
        mlFeatures=[
            MlFeature(name="is_premium", dataType="categorical", description="Premium user.",
                      featureSources=[FeatureSource(name="premium", dataType="boolean", dataSource=users)]),
            MlFeature(name="orders", dataType="numerical",
                      featureSources=[FeatureSource(name="order_id", dataType="integer", dataSource=orders)]),
        ],
        mlHyperParameters=[MlHyperParameter(name="depth", value="3"), MlHyperParameter(name="lr", value="0.1")],
    )
    return CreateMlModelRequest(**{**fields, **overrides})


def raw(sandbox, method: str, path: str, user: str = "mlmeta-bot", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {sandbox.token(user)}", **kwargs.pop("headers", {})}
    return requests.request(method, sandbox.api_url + path, headers=headers, timeout=10, **kwargs)
