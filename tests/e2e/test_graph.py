"""``mlmeta graph`` and the pictures in the step summary, drawn by mermaid itself in headless chromium."""

from __future__ import annotations

import re
import uuid

from mlmeta.commands import graph
from mlmeta.spec.load import load_spec
from tests.helpers.browser import render
from tests.helpers.files import REPO
from tests.helpers.files import write
from tests.helpers.publishing import SPEC, publish

AWKWARD = """\
mlmeta: 1
name: 'odd #1: <model & co'
service: ml
features:
  - name: 'count#all: a b c'
    type: numerical
    sources:
      - topic: 'kafka."events.v2 #raw"'
        field: '"payload.user id".country'
      - column: 'pg."my.db".public."order items".price'
  - name: 'x & y <z'
    type: categorical
    sources:
      - table: 'pg.db.public.t'
        column: 'a:b'
outputs:
  - topic: 'kafka."scores: live"'
    field: 'score #1'
"""


def spec_of(path):
    return load_spec(path, path.name).spec.spec


def test_the_demo_models_picture_draws_sources_features_and_model(tmp_path):
    spec = spec_of(REPO / "model_specs" / "delivery_time.yaml")
    picture = graph.build(spec, "mlflow_models.delivery_time")
    drawn = render(graph.mermaid(picture), screenshot=tmp_path / "delivery_time.png")
    assert drawn.title == "rendered", drawn.title
    labels = {label: node for node, label in drawn.nodes.items()}
    assert {"last_update", "rating", "average_price", "premium", "last_update_bucket", "restaurant_dimension",
            "is_premium", "mlflow_models.delivery_time"} <= set(labels)
    assert (labels["rating"], labels["restaurant_dimension"]) in drawn.edges
    assert (labels["is_premium"], labels["mlflow_models.delivery_time"]) in drawn.edges
    assert {"Tables", "Features", "demo_pg.postgres.public.orders"} <= set(drawn.clusters.values())
    assert (tmp_path / "delivery_time.png").stat().st_size > 10_000


def test_names_full_of_quotes_colons_hashes_and_brackets_cannot_break_the_diagram(tmp_path):
    spec = spec_of(write(tmp_path / "odd.yaml", AWKWARD))
    model = "ml.odd #1: <model & co"
    picture = graph.build(spec, model)
    source = graph.mermaid(picture)
    assert '"events.v2' not in source and "#quot;events.v2 #35;raw#quot;" in source  # escaped, never raw
    drawn = render(source)
    assert drawn.title == "rendered", drawn.title
    labels = set(drawn.nodes.values()) | set(drawn.clusters.values())
    assert {"count#all: a b c", "x & y <z", "payload.user id.country", "a:b", "score #1", model,
            'kafka."events.v2 #raw"', "kafka.scores: live", 'pg."my.db".public.order items'} <= labels, labels
    assert len(drawn.edges) == len(picture.links)
    dot = graph.dot(picture)
    assert 'label="kafka.\\"events.v2 #raw\\""' in dot and dot.count("{") == dot.count("}")


def test_a_model_with_40_features_and_15_sources_is_collapsed_and_says_so(tmp_path):
    features = "\n".join(f"""\
  - name: f{i:02d}
    type: numerical
    sources:
      - table: pg.db.public.t{i % 15:02d}
        column: c{i:02d}""" for i in range(40))
    spec = spec_of(write(tmp_path / "big.yaml", f"mlmeta: 1\nname: big\nservice: ml\nfeatures:\n{features}\n"))
    picture = graph.build(spec, "ml.big")
    assert picture.notes and "40 features and 40 columns or fields collapsed" in picture.notes[0]
    drawn = render(graph.mermaid(picture))
    assert drawn.title == "rendered", drawn.title
    assert len(drawn.nodes) == 15 + 1 + 1  # the sources, the model, the note
    assert sum(1 for _, target in drawn.edges if target == "n0") == 15
    assert any("collapsed" in label for label in drawn.nodes.values())


def test_a_pull_request_that_adds_a_source_shows_the_edge_marked_added(cli, env, sandbox, registry, in_tmp,
                                                                       monkeypatch, tmp_path):
    name = f"delivery_{uuid.uuid4().hex[:8]}"
    spec = write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    registry.alias(name, registry.register(name))
    assert publish(cli, env, "--all")[0] == 0
    spec.write_text(spec.read_text().replace("""      - column: demo_pg.postgres.public.users.premium
""", """      - column: demo_pg.postgres.public.users.premium
      - column: demo_pg.postgres.public.orders.user_id
"""), encoding="utf-8")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    result = cli("plan", "--format", "github", "--all",
                 env={**env, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)})
    assert result.exit_code == 0, result.stdout
    text = summary.read_text()
    # the same Markdown is the step's `summary` output, which the pull-request workflow posts
    delimiter = re.search(r"^summary<<(\S+)$", outputs.read_text(), re.M).group(1)
    posted = outputs.read_text().split(f"summary<<{delimiter}\n")[1].split(f"\n{delimiter}")[0]
    assert posted.rstrip("\n") == text.rstrip("\n")
    assert f"#### `mlflow_models.{name}` (changed)" in text
    [source] = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    drawn = render(source)
    assert drawn.title == "rendered", drawn.title
    ids = {label: node for node, label in drawn.nodes.items()}
    assert "added" in drawn.node_classes(ids["user_id"])  # the new column, in the orders table
    assert "added" not in drawn.node_classes(ids["premium"])
    assert (ids["user_id"], ids["is_premium"]) in drawn.edges
    assert {"added by this change", "removed by this change", "unchanged"} <= set(drawn.nodes.values())


def test_a_removed_feature_and_source_are_drawn_struck_through():
    spec = load_spec(REPO / "model_specs" / "delivery_time.yaml", "d.yaml").spec.spec
    picture = graph.mark(graph.build(spec, "ml.d"), removed_sources=["demo_pg.postgres.public.gone"],
                         removed_features=["old_feature"], added_features=["is_premium"])
    source = graph.mermaid(picture)
    drawn = render(source)
    assert drawn.title == "rendered", drawn.title
    ids = {label: node for node, label in drawn.nodes.items()}
    assert "removed" in drawn.node_classes(ids["old_feature"])
    assert "removed" in drawn.node_classes(ids["demo_pg.postgres.public.gone"])
    assert "<s>old_feature</s>" in source and "added" in drawn.node_classes(ids["is_premium"])
