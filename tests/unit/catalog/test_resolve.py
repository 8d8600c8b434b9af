"""Resolution against a catalog (a fake one here: the protocol is two look-ups)."""

from __future__ import annotations

from mlmeta.catalog.records import Asset, Ref, flatten_children
from mlmeta.catalog.resolve import resolve
from mlmeta.spec.load import load_spec
from tests.helpers.files import write

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

    def asset(self, kind, fqn):
        self.calls.append(fqn)
        return {
            ("table", "svc.db.public.users"): Asset("t1", "table", fqn, "users", False,
                                                    {"tenure": "BIGINT", "plan": "VARCHAR"}),
            ("table", "svc.db.public.archived"): Asset("t2", "table", fqn, "archived", True, {}),
            ("topic", "kafka.events"): Asset("k1", "topic", fqn, "events", False, flatten_children([
                {"name": "user_id", "dataType": "LONG"},
                {"name": "payload", "dataType": "RECORD", "children": [
                    {"name": "duration_ms", "dataType": "INT"}, {"name": "page.url", "dataType": "STRING"}]}])),
            ("searchIndex", "es.users"): Asset("s1", "searchIndex", fqn, "users", False, {"country": "KEYWORD"}),
            ("container", "s3.ml.clicks"): Asset("c1", "container", fqn, "clicks", False, {"clicks": "BIGINT"}),
            ("dashboardDataModel", "superset.model.engagement"): Asset(
                "d1", "dashboardDataModel", fqn, "engagement", False, {"score": "DOUBLE"}),
        }.get((kind, fqn))

    def reference(self, kind, name):
        return Ref("u1", kind, name, name) if name == "alice" else None

    def names(self, kind, parent=None):
        self.calls.append((kind, parent))
        return {("table", "svc.db.public"): ["svc.db.public.users", "svc.db.public.archived", "svc.db.public.goner"],
                ("user", None): ["alice", "nobody1"]}.get((kind, parent), [])


def test_every_problem_is_reported_at_its_node(tmp_path):
    loaded = load_spec(write(tmp_path / "s.yaml", SPEC), "s.yaml").spec
    resolution, problems = resolve(loaded, Catalog(), None)
    assert [(d.code, d.line, d.column, d.message) for d in problems] == [
        ("R002", 10, 17, "features[0].sources[1].column: column 'tenur' not found in table 'svc.db.public.users'; "
                        "did you mean 'tenure'?"),
        ("R001", 11, 16, "features[0].sources[2].table: table 'svc.db.public.gone' not found in OpenMetadata; "
                        "did you mean 'svc.db.public.goner'?"),
        ("R003", 12, 16, "features[0].sources[3].table: table 'svc.db.public.archived' is deleted in OpenMetadata"),
        ("R009", 3, 25, "owners.users[1]: user 'nobody' not found in OpenMetadata; did you mean 'nobody1'?"),
    ]
    tenure = resolution.sources[(0, 0)]
    assert (tenure.name, tenure.data_type, tenure.asset.id) == ("tenure", "integer", "t1")
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
    assert resolution.sources[(0, 0)].asset.id == "t1"


STREAMS = """\
mlmeta: 1
name: engagement
features:
  - name: activity
    type: numerical
    sources:
      - topic: kafka.events
        field: payload.duration_ms
      - topic: kafka.events
        field: payload."page.url"
      - topic: kafka.events
        field: payload.durations
      - search_index: es.users
        field: country
      - container: s3.ml.clicks
        column: clicks
      - dashboard_data_model: superset.model.engagement
        column: score
      - topic: kafka.missing
  - name: user
    type: categorical
    sources:
      - topic: kafka.events
"""


def test_topics_indexes_containers_and_data_models_resolve_with_their_children(tmp_path):
    loaded = load_spec(write(tmp_path / "s.yaml", STREAMS), "s.yaml").spec
    resolution, problems = resolve(loaded, Catalog(), None)
    assert [(d.code, d.line, d.message) for d in problems] == [
        ("R002", 12, "features[0].sources[2].field: field 'payload.durations' not found in topic 'kafka.events'; "
                     "did you mean 'payload.duration_ms'?"),
        ("R001", 19, "features[0].sources[6].topic: topic 'kafka.missing' not found in OpenMetadata"),
    ]
    found = {key: (s.asset.type, s.name, s.data_type, s.child_fqn) for key, s in resolution.sources.items()}
    assert found == {
        (0, 0): ("topic", "payload.duration_ms", "integer", "kafka.events.payload.duration_ms"),
        (0, 1): ("topic", "payload.page.url", "string", 'kafka.events.payload."page.url"'),  # names: no quotes
        (0, 3): ("searchIndex", "country", "string", "es.users.country"),
        (0, 4): ("container", "clicks", "integer", "s3.ml.clicks.clicks"),
        (0, 5): ("dashboardDataModel", "score", "number", "superset.model.engagement.score"),
        (1, 0): ("topic", "events", None, None),
    }
    edges = {e.source.fqn: e.columns for e in resolution.edges("ml.engagement", ["activity", "user"])}
    assert edges == {
        "kafka.events": (("ml.engagement.activity", ('kafka.events.payload."page.url"',
                                                     "kafka.events.payload.duration_ms")),),
        "es.users": (("ml.engagement.activity", ("es.users.country",)),),
        "s3.ml.clicks": (("ml.engagement.activity", ("s3.ml.clicks.clicks",)),),
        "superset.model.engagement": (("ml.engagement.activity", ("superset.model.engagement.score",)),),
    }


def test_trusted_sources_keep_their_column_level_mapping(tmp_path):
    spec = write(tmp_path / "s.yaml", "mlmeta: 1\nname: m\nfeatures:\n  - name: clicks\n    type: numerical\n"
                                      "    sources:\n      - topic: kafka.events\n        field: user_id\n"
                                      "      - topic: kafka.agg\n")
    topic = {"id": "k1", "type": "topic", "name": "events", "fullyQualifiedName": "kafka.events"}
    agg = {"id": "k2", "type": "topic", "name": "agg", "fullyQualifiedName": "kafka.agg"}
    current = {"mlFeatures": [{"name": "clicks", "featureSources": [
        {"name": "user_id", "dataType": "integer", "dataSource": topic},
        {"name": "agg", "dataSource": agg}]}]}
    catalog = Catalog()
    resolution, problems = resolve(load_spec(spec).spec, catalog, current, trusted=True)
    assert problems == [] and catalog.calls == []
    assert resolution.sources[(0, 0)].child_fqn == "kafka.events.user_id"
    assert resolution.sources[(0, 1)].child_fqn is None
