"""``mlmeta graph`` and the pictures in the step summary, drawn by mermaid itself in headless chromium."""

from __future__ import annotations

import json
import re
import uuid

from mlmeta.commands import graph
from mlmeta.spec.load import load_spec
from tests.browser import REPO, render
from tests.conftest import write
from tests.test_publish import SPEC, publish

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


def test_the_graph_command_prints_mermaid_dot_and_json(cli):
    mermaid = cli("graph", str(REPO / "examples" / "streaming"))
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("flowchart LR")
    assert '-.->|"labels"|' in mermaid.stdout and '-->|"prediction"|' in mermaid.stdout
    dot = cli("graph", "--format", "dot", str(REPO / "examples" / "streaming"))
    assert dot.exit_code == 0 and dot.stdout.startswith('digraph "mlflow_models.bot_detector" {')
    data = json.loads(cli("graph", "--format", "json", str(REPO / "examples" / "streaming")).stdout)
    [picture] = data["graphs"]
    assert picture["model"] == "mlflow_models.bot_detector" and len(picture["nodes"]) == 18


def test_an_invalid_spec_is_reported_not_drawn(cli, tmp_path):
    result = cli("graph", str(write(tmp_path / "bad.yaml", "mlmeta: 1\nname: x\nfeatures: 3\n")))
    assert result.exit_code == 1 and "bad.yaml:3:11" in result.stdout


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


NODE_HARNESS = """
const existing = JSON.parse(process.argv[1]);
const calls = [];
const github = {
  paginate: async (method, args) => { calls.push(["list", args.issue_number]); return existing; },
  rest: { issues: {
    listComments: 'listComments',
    updateComment: async (args) => { calls.push(['update', args.comment_id, args.body]); },
    createComment: async (args) => { calls.push(['create', args.issue_number, args.body]); },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 } };
(async () => { %s })().then(() => console.log(JSON.stringify(calls)));
"""


def run_comment_script(comments: list[dict], plan: str) -> list:
    import shutil
    import subprocess

    import yaml

    workflow = yaml.safe_load((REPO / "examples" / "github" / "mlmeta-pull-request.yml").read_text())
    [step] = [s for s in workflow["jobs"]["specs"]["steps"] if s.get("uses", "").startswith("actions/github-script")]
    assert step["env"]["PLAN"] == "${{ steps.plan.outputs.summary }}"
    node = shutil.which("node")
    assert node, "node is needed to run the workflow's script"
    done = subprocess.run([node, "-e", NODE_HARNESS % step["with"]["script"], json.dumps(comments)],
                          env={"PLAN": plan}, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_pull_request_comment_is_posted_once_then_updated_in_place():
    first = run_comment_script([{"id": 1, "user": {"type": "User"}, "body": "<!-- mlmeta plan -->\nquoted by a person"}],
                               "### mlmeta plan: 1 would be updated")
    assert first[-1] == ["create", 7, "<!-- mlmeta plan -->\n### mlmeta plan: 1 would be updated"]
    again = run_comment_script([{"id": 1, "user": {"type": "User"}, "body": "<!-- mlmeta plan -->\nquoted"},
                                {"id": 5, "user": {"type": "Bot"}, "body": "<!-- mlmeta plan -->\nold plan"}],
                               "### mlmeta plan: 2 would be updated")
    assert again[-1] == ["update", 5, "<!-- mlmeta plan -->\n### mlmeta plan: 2 would be updated"]
