"""The OpenMetadata adapter against the sandbox: bulk reads follow the server's paging."""

from __future__ import annotations

from mlmeta.catalog import openmetadata
from mlmeta.config import load_settings
from tests.integration.sandbox.test_fidelity import create


def catalog_for(sandbox):
    settings = load_settings({"openmetadata_host": sandbox.url},
                             environ={"OPENMETADATA_JWT_TOKEN": sandbox.token()})
    return openmetadata.OpenMetadataCatalog(settings)


def test_a_services_models_are_read_page_by_page(sandbox, monkeypatch):
    for i in range(5):
        create(sandbox, name=f"paged_{i}")
    monkeypatch.setattr(openmetadata, "PAGE_SIZE", 2)
    catalog = catalog_for(sandbox)
    sandbox.reset_stats()
    names = [m["name"] for m in catalog.iter_models("mlflow_models")]
    assert names == [f"paged_{i}" for i in range(5)]
    assert sandbox.stats()["requests"] == {"GET /v1/mlmodels": 3}


def test_the_bulk_read_keeps_only_what_the_run_needs(sandbox):
    for i in range(3):
        create(sandbox, name=f"kept_{i}")
    catalog = catalog_for(sandbox)
    catalog.prefetch_models(["mlflow_models"], keep=lambda e: {"id": e["id"]} if e["name"] == "kept_1" else None)
    assert catalog.model("mlflow_models.kept_1") == {"id": catalog.model("mlflow_models.kept_1", fresh=True)["id"]}
    assert catalog.model("mlflow_models.kept_0") is None  # dropped: treated as absent, no request
    assert catalog.model("mlflow_models.kept_0", fresh=True)["name"] == "kept_0"
