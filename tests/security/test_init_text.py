"""mlmeta init writes what the registry and the catalog say into a spec: text whoever trained a model
chose (its datasets' names, its signature's types, its flavour, its parameters' values) and what the
catalog holds (column types). None of it may become the spec's own YAML."""

from __future__ import annotations

import yaml

from mlmeta.catalog.datasets import MappedDataset
from mlmeta.commands.init import Column, Proposal, starter_spec
from mlmeta.registry.types import LoggedDataset, ProductionVersion, SignatureInput

USERS = "svc.db.public.users"


def test_text_from_the_registry_or_the_catalog_stays_inside_its_comment():
    """Whoever registers and trains a model names it, its datasets and its signature's types, and the catalog
    names column types: a line break in any of them would end init's comment and add keys to the spec."""
    injected = "x\nservice: attacker\u2028owners: {users: [mallory]}"
    facts = ProductionVersion(f"churn{injected}", "1", "alias", f"champion{injected}", None, flavors=(injected,),
                              signature=(SignatureInput("tenure", injected), SignatureInput("country", "string")),
                              params={"steps": injected})
    logged = LoggedDataset(injected, "abc", "spark", '{"table_name": "svc.db.public.users"}', "training", ("tenure",))
    datasets = [MappedDataset(logged, "table", USERS)]
    near = {"country": Proposal(near=((Column("table", USERS, "country", injected), injected),))}
    for proposals in (None, near):  # unchecked (from the logged schema), and near matches from the catalog
        text = starter_spec(facts, service="s", schema_ref=None, datasets=datasets, proposals=proposals)
        spec = yaml.safe_load(text)
        assert spec["service"] == "s" and "owners" not in spec, text
        assert spec["name"] == f"churn{injected}" and spec["mlflow"]["alias"] == f"champion{injected}"
