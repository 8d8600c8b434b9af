"""Finding codes are one table (``diagnostics.CODES``): every code the package names - a finding it
makes, or a code its help and docstrings mention - is in the table, and every code in the table is
made somewhere, outside the table and its explanations."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mlmeta.diagnostics import CODES

PACKAGE = Path(__file__).resolve().parents[2] / "mlmeta"
CODE = re.compile(r"\b[A-Z][0-9]{3}\b")  # the shape of every code in the table
TABLES = {PACKAGE / "diagnostics.py", PACKAGE / "explanations.py"}


def strings(package: Path = PACKAGE, skip: set[Path] = frozenset(), docstrings: bool = True
            ) -> list[tuple[str, int, str]]:
    """(module, line, text) of every string literal in the package (and of every docstring, if asked)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path in skip:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}  # docstrings
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (docstrings or id(node) not in prose):
                found.append((path.relative_to(package.parent).as_posix(), node.lineno, node.value))
    return found


def test_every_code_the_package_names_is_in_the_table():
    unknown = [f"{module}:{line}: {code}" for module, line, text in strings() for code in CODE.findall(text)
               if code not in CODES]
    assert unknown == []


def test_every_code_in_the_table_is_made_somewhere():
    """Made: a finding's code (``"R014"``), or the code a message starts with (drift's orphans)."""
    leading = re.compile(r"([A-Z][0-9]{3})(?: |$)")
    made = {found.group(1) for _, _, text in strings(skip=TABLES, docstrings=False) if (found := leading.match(text))}
    assert [code for code in CODES if code not in made] == []


def test_the_table_follows_the_shape_the_checks_look_for():
    assert all(CODE.fullmatch(code) for code in CODES)
