"""No module outside the registry package compares a registry's name: it asks the registry's kind."""

from __future__ import annotations

import ast
from pathlib import Path

from mlmeta.registry import table
from tests.helpers.files import REPO

PACKAGE = REPO / "mlmeta"
REGISTRY_PACKAGE = PACKAGE / "registry"


def name_comparisons(source: str, registry_names: set[str]) -> list[int]:
    """The lines of ``source`` that compare something with a registry's name (==, !=, in, not in)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            constants = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
            if any(isinstance(c, ast.Constant) and c.value in registry_names for c in constants):
                found.append(node.lineno)
                break
    return found


def test_the_check_sees_each_kind_of_comparison():
    names = {"mlflow", "kubeflow"}
    source = ('a = settings.registry == "kubeflow"\nb = "mlflow" != x\nc = r in ("mlflow", "kubeflow")\n'
              'd = scheme != "mlflow-artifacts"\ne = kind.has_default_production\n')
    assert name_comparisons(source, names) == [1, 2, 3]


def test_no_module_outside_the_registry_package_compares_a_registry_name():
    names = set(table.names())
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(REGISTRY_PACKAGE):
            continue
        found += [f"{path.relative_to(REPO)}:{line}" for line in name_comparisons(path.read_text(encoding="utf-8"),
                                                                                 names)]
    assert not found, "ask the registry's kind (mlmeta.registry.table.kind_of) instead: " + ", ".join(found)
