"""``mlmeta graph`` without a browser: the command's mermaid, dot and JSON, an invalid spec reported, and
the pull request comment posted once then updated (the workflow's script run by node)."""

from __future__ import annotations

import json

from tests.helpers.files import REPO
from tests.helpers.files import write


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
