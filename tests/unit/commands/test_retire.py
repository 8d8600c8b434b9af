"""``mlmeta retire`` offline: a delete the server does not hold is reported."""

from __future__ import annotations

from mlmeta.catalog.releases import capabilities
from mlmeta.commands.retire import delete_checked


class _CatalogThatKeeps:
    """A server that answers a delete and keeps the model as it was."""

    release = capabilities("1.12.14")

    def delete_model(self, model_id: str) -> dict:
        return {"id": model_id, "deleted": False}

    def model(self, fqn: str, *, include_deleted: bool = False) -> dict:
        return {"id": "1", "fullyQualifiedName": fqn, "deleted": False}


def test_a_delete_the_server_does_not_hold_is_reported():
    problem = delete_checked(_CatalogThatKeeps(), {"id": "1", "fullyQualifiedName": "svc.m"})
    assert problem == ("OpenMetadata 1.12.14 accepted the delete of svc.m but still holds it undeleted (read back "
                       "after the write)")
