"""No import cycles in ``mlmeta/``, counting imports inside functions: a cycle means two modules each need
the other, so neither can be read, tested or moved alone. The graph is built from the source with
``ast`` (every ``import`` and ``from ... import`` anywhere in a module); ``from package import name``
counts as an import of the module ``package.name`` when that is a module, and a package's
``__init__`` is a node of its own."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mlmeta"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports."""
    modules = {module_name(path, package): path for path in package.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, name, is_package, modules):
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _targets(node: ast.AST, importer: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative: from the importer's package, one level up per extra dot
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # ``from pkg import mod`` imports the module pkg.mod when there is one, else a name defined in pkg
    return [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each shown as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(_one_cycle(graph, set(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    return sorted(group)


def test_there_is_no_import_cycle_in_mlmeta():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_check_sees_a_cycle_through_an_import_inside_a_function(tmp_path):
    package = tmp_path / "mlmeta"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "a.py").write_text("from mlmeta.inner import b\n")
    (package / "inner" / "b.py").write_text("import mlmeta\n\ndef late():\n    from .. import a\n")
    (package / "c.py").write_text("import mlmeta.a\n")
    graph = import_graph(package)
    assert graph["mlmeta.a"] == {"mlmeta.inner.b"}
    assert graph["mlmeta.inner.b"] == {"mlmeta", "mlmeta.a"}
    assert cycles(graph) == [["mlmeta.a", "mlmeta.inner.b", "mlmeta.a"]]
