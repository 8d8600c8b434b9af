"""Resolution against a catalog (a fake one here: the protocol is two look-ups)."""

from __future__ import annotations

from mlmeta.catalog import Ref, TableInfo
from mlmeta.resolve import resolve
from mlmeta.spec.load import load_spec
from tests.conftest import write

SPEC = """\
mlmeta: 1
name: churn
owners: {users: [alice, nobody]}
features:
  - name: tenure
    type: numerical
    sources:
      - column: svc.db.public.users.tenure
      - table: svc.db.public.users
        column: tenur
      - table: svc.db.public.gone
      - table: svc.db.public.archived
      - table: svc.db.public.users
        data_type: object
"""


class Catalog:
    def __init__(self):
        self.calls = []

    def table(self, fqn):
        self.calls.append(fqn)
        return {
            "svc.db.public.users": TableInfo("t1", fqn, "users", False, {"tenure": "BIGINT", "plan": "VARCHAR"}),
            "svc.db.public.archived": TableInfo("t2", fqn, "archived", True, {}),
        }.get(fqn)

    def reference(self, kind, name):
        return Ref("u1", kind, name, name) if name == "alice" else None


def test_every_problem_is_reported_at_its_node(tmp_path):
    loaded = load_spec(write(tmp_path / "s.yaml", SPEC), "s.yaml").spec
    resolution, problems = resolve(loaded, Catalog(), None)
    assert [(d.code, d.line, d.column, d.message) for d in problems] == [
        ("R002", 10, 17, "features[0].sources[1].column: column 'tenur' not found in table 'svc.db.public.users'; "
                        "did you mean 'tenure'?"),
        ("R001", 11, 16, "features[0].sources[2].table: table 'svc.db.public.gone' not found in OpenMetadata"),
        ("R003", 12, 16, "features[0].sources[3].table: table 'svc.db.public.archived' is deleted in OpenMetadata"),
        ("R009", 3, 25, "owners.users[1]: user 'nobody' not found in OpenMetadata"),
    ]
    tenure = resolution.sources[(0, 0)]
    assert (tenure.name, tenure.data_type, tenure.table.id) == ("tenure", "integer", "t1")
    whole = resolution.sources[(0, 4)]
    assert (whole.name, whole.data_type) == ("users", "object")


def test_recorded_references_are_trusted_without_look_ups(tmp_path):
    spec = write(tmp_path / "s.yaml", "mlmeta: 1\nname: churn\nfeatures:\n  - name: tenure\n    type: numerical\n"
                                      "    sources:\n      - column: svc.db.public.users.tenure\n")
    loaded = load_spec(spec).spec
    current = {"mlFeatures": [{"name": "tenure", "featureSources": [{
        "name": "tenure", "dataType": "integer",
        "dataSource": {"id": "t1", "type": "table", "name": "users", "fullyQualifiedName": "svc.db.public.users"}}]}]}
    catalog = Catalog()
    resolution, problems = resolve(loaded, catalog, current, trusted=True)
    assert problems == [] and catalog.calls == []
    assert resolution.sources[(0, 0)].table.id == "t1"
