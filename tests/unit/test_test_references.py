"""The documentation names the tests that prove what it says (docs/security.md's table above all): every
``tests/...py`` path it names exists, and so does each ``::test`` it names, so moving a test cannot
leave a claim without its proof."""

from __future__ import annotations

import ast
import re

from tests.helpers.files import REPO

# a path of this repository's tests, not one inside another project's (``ingestion/tests/...``)
REFERENCE = re.compile(r"(?<![\w/.-])(tests/[\w/]+\.py)(?:::(\w+))?")
CITING = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md", REPO / "SECURITY.md",
          *sorted((REPO / "mlmeta").rglob("*.py")), REPO / "pyproject.toml", REPO / "Makefile"]


def references() -> list[tuple[str, str, str | None]]:
    found = []
    for path in CITING:
        for match in REFERENCE.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(REPO)), match.group(1), match.group(2)))
    return found


def test_the_documents_cite_tests_by_path():
    cited = {source for source, _, _ in references()}
    assert "docs/security.md" in cited and "Makefile" in cited


def test_every_cited_test_file_and_test_exists():
    missing = []
    for source, path, name in references():
        target = REPO / path
        if not target.is_file():
            missing.append(f"{source}: {path}")
        elif name and name not in {node.name for node in ast.walk(ast.parse(target.read_text(encoding="utf-8")))
                                   if isinstance(node, ast.FunctionDef)}:
            missing.append(f"{source}: {path}::{name}")
    assert not missing, "cited but not there:\n" + "\n".join(missing)
