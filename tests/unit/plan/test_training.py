"""The training datasets of the Production version against the spec's sources (pure but for a
stand-in catalog that knows which assets exist)."""

from __future__ import annotations

import json

from mlmeta.catalog.datasets import rules_from
from mlmeta.catalog.records import Asset
from mlmeta.plan import training
from mlmeta.registry.types import LoggedDataset, ProductionVersion
from mlmeta.spec.load import load_spec
from tests.helpers.files import write

SPEC = """\
mlmeta: 1
name: delivery
service: svc
features:
  - name: bucket
    type: categorical
    sources:
      - column: pg.db.public.orders.last_update
  - name: premium
    type: categorical
{premium}
label_sources:
  - container: s3.training.delivery
"""
RULES = rules_from({"tables": {"postgres": "pg.db"}, "storage": {"s3://training": "s3.training",
                                                               "s3://training/delivery": "s3.training.delivery"}})


class Catalog:
    """Knows the assets by FQN; a deleted one is found and marked so, as the adapter does."""

    def __init__(self, *present: str, deleted: tuple[str, ...] = ()) -> None:
        self.present, self.deleted, self.asked = set(present), set(deleted), []

    def asset(self, kind: str, fqn: str):
        self.asked.append((kind, fqn))
        if fqn not in self.present | self.deleted:
            return None
        return Asset(f"id-{fqn}", kind, fqn, fqn.split(".")[-1], fqn in self.deleted, {})


def facts(*datasets: LoggedDataset) -> ProductionVersion:
    return ProductionVersion("delivery", "3", "alias", "champion", None, run_id="run1", datasets=datasets)


def table(name: str, context: str | None = "training") -> LoggedDataset:
    return LoggedDataset(name.split(".")[-1], "d1", "spark", json.dumps({"table_name": name}), context)


def check(tmp_path, premium: str, version: ProductionVersion, catalog: Catalog):
    loaded = load_spec(write(tmp_path / "s.yaml", SPEC.format(premium=premium)), "s.yaml").spec
    found = training.look_up(version, RULES, catalog)
    return found, training.check(loaded, found)


TRAINED = facts(table("postgres.public.orders"), table("postgres.public.users"),
                LoggedDataset("sessions", "d2", "s3", json.dumps({"uri": "s3://training/delivery/x.parquet"}), "train"),
                LoggedDataset("holidays", "d3", "http", json.dumps({"url": "https://example.com/h.csv"}), "training"),
                table("postgres.public.logged_without_context", context=None),
                table("postgres.public.orders_eval", context="eval"))
CATALOG = ("pg.db.public.orders", "pg.db.public.users", "s3.training", "s3.training.delivery")


def test_a_training_table_no_source_names_is_a_warning_at_the_features_line(tmp_path):
    _, found = check(tmp_path, "    sources: []", TRAINED, Catalog(*CATALOG))
    codes = [(d.code, d.severity.value, d.line) for d in found]
    assert ("R010", "warning", 4) in codes
    [warning] = [d for d in found if d.code == "R010"]
    assert "users@d1 (MLflow run run1): table 'pg.db.public.users', which no source of the spec names" in \
        warning.message
    [unmapped] = [d for d in found if d.code == "R012"]  # the HTTP calendar; the eval dataset is not training data
    assert "holidays@d3" in unmapped.message  # rules read from no project file: both spellings of the section
    assert "no rule under [datasets.storage] in mlmeta.toml ([tool.mlmeta.datasets.storage] in pyproject.toml)" \
        in unmapped.message
    assert not any(d.code == "R011" for d in found)  # orders and the labels' container are covered


def test_the_warning_goes_once_the_spec_names_the_table(tmp_path):
    _, found = check(tmp_path, "    sources:\n      - column: pg.db.public.users.premium", TRAINED, Catalog(*CATALOG))
    assert [d.code for d in found] == ["R012"]


def test_a_source_no_training_dataset_covers_is_a_notice_at_its_line(tmp_path):
    version = facts(table("postgres.public.users"))
    _, found = check(tmp_path, "    sources:\n      - column: pg.db.public.users.premium", version, Catalog(*CATALOG))
    notices = {(d.code, d.line) for d in found}
    assert notices == {("R011", 8), ("R011", 14)}  # orders, and the labels' container
    assert all(d.severity.value == "notice" for d in found)


def test_nothing_logged_nothing_noticed(tmp_path):
    found, diagnostics = check(tmp_path, "    sources: []", facts(table("postgres.public.x", context="eval")),
                               Catalog(*CATALOG))
    assert diagnostics == [] and found.property_value() is None


def test_an_asset_missing_from_the_catalog_is_a_notice_and_gets_no_edge(tmp_path):
    found, diagnostics = check(tmp_path, "    sources:\n      - column: pg.db.public.users.premium", TRAINED,
                               Catalog("pg.db.public.orders", "s3.training.delivery", deleted=("pg.db.public.users",)))
    assert any(d.code == "R012" and "'pg.db.public.users': not found in OpenMetadata" in d.message
               for d in diagnostics)
    assert [ref.fqn for ref, _ in found.edge_roles()] == ["pg.db.public.orders", "s3.training.delivery"]
    role = dict((ref.fqn, role) for ref, role in found.edge_roles())["pg.db.public.orders"]
    assert role == "training data, MLflow run run1, dataset orders@d1"
    rows = found.property_value()["rows"]
    assert rows[1] == {"dataset": "users", "digest": "d1", "source": "postgres.public.users"}
    assert rows[0]["source"] == "pg.db.public.orders"
