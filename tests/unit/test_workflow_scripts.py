"""No example workflow pastes an expression into a script (read as files, nothing run)."""

from __future__ import annotations

import yaml

from tests.helpers.files import REPO

EXAMPLES = REPO / "examples" / "github"


def test_no_example_workflow_pastes_an_expression_into_a_script():
    """A payload's text (a branch name, a commit message) reaches a script only through env:
    ``${{ github.event.before }}`` pasted into ``run:`` would be a script injection."""
    for path in EXAMPLES.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (path.name, step.get("name"))
