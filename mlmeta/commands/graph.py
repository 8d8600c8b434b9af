"""A model's lineage as a picture: sources -> features -> model -> outputs, from the spec alone (pure).

``build`` turns a spec into nodes and links: each asset in a group of its kind (tables, topics,
containers ...), its columns or fields inside it where the spec names them, the features, the
model, the label sources and the outputs. ``mark`` colours what a plan adds and removes.
``mermaid`` and ``dot`` render the same graph; node ids are generated (``n0``, ``n1`` ...) and
every label is escaped, so no FQN - dots, quotes, ``#``, brackets, line breaks - can break the
diagram.

A big model stays readable: past ``MAX_DETAILED_FEATURES`` features or ``MAX_DETAILED_CHILDREN``
columns, columns and features are collapsed into one edge per source asset, labelled with how
many features it feeds, and the graph says what was collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.spec.model import ModelSpec
from mlmeta.spec.rules import source_identity

MAX_DETAILED_FEATURES = 20
MAX_DETAILED_CHILDREN = 30
KIND_TITLES = {"table": "Tables", "topic": "Topics", "container": "Containers",
               "dashboard_data_model": "Dashboard data models", "search_index": "Search indexes"}
GROUP_TITLES = {"labels": "Labels", "outputs": "Predictions go to", "removed": "Removed"}


@dataclass
class Node:
    id: str
    label: str
    kind: str  # an asset kind (table, topic ...), "column", "feature" or "model"
    parent: str | None = None  # the group it is drawn in: an asset's id, "features", or a kind's group
    state: str = "same"
    ref: str | None = None  # a column's, field's or feature's FQN (what column-level lineage names)


@dataclass
class Link:
    source: str
    target: str
    label: str | None = None
    state: str = "same"
    dashed: bool = False  # label sources: what the model learns, not what it reads at serving time


@dataclass
class Graph:
    model: str  # the model's FQN
    nodes: list[Node] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was collapsed
    marked: bool = False  # shows changes: draw the legend

    def node(self, key: str) -> Node | None:
        return next((n for n in self.nodes if n.id == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "nodes": [vars(n) for n in self.nodes], "links": [vars(l) for l in self.links],
                "notes": self.notes}


class _Builder:
    def __init__(self, model: str) -> None:
        self.graph = Graph(model)
        self.ids: dict[tuple, str] = {}

    def add(self, key: tuple, label: str, kind: str, parent: str | None = None, ref: str | None = None) -> str:
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
            self.graph.nodes.append(Node(self.ids[key], label, kind, parent, ref=ref))
        return self.ids[key]

    def child(self, asset_fqn: str, child: str, asset: str) -> str:
        return self.add(("child", asset_fqn, child), _child_label(child), "column", parent=asset,
                        ref=f"{asset_fqn}.{child}")

    def asset(self, kind: str, name: str, group: str | None = None) -> str:
        """An asset, in the group of its kind (sources), or in ``group`` (labels, outputs)."""
        return self.add(("asset", kind, name), name, kind, parent=group or f"kind:{kind}")

    def link(self, source: str, target: str, label: str | None = None, dashed: bool = False) -> None:
        if not any(l.source == source and l.target == target for l in self.graph.links):
            self.graph.links.append(Link(source, target, label, dashed=dashed))


def build(spec: ModelSpec, model_fqn: str) -> Graph:
    builder = _Builder(model_fqn)
    model = builder.add(("model",), model_fqn, "model")
    children = {(source_identity(s).asset, source_identity(s).child) for f in spec.features for s in f.sources
                if source_identity(s).child is not None}
    detailed = len(spec.features) <= MAX_DETAILED_FEATURES and len(children) <= MAX_DETAILED_CHILDREN
    if detailed:
        _detailed(builder, spec, model)
    else:
        _collapsed(builder, spec, model, len(children))
    for label in spec.label_sources or []:
        identity = source_identity(label)
        builder.link(builder.asset(identity.kind, identity.asset, "labels"), model, "labels", dashed=True)
    for output in spec.outputs or []:
        identity = source_identity(output)
        asset = builder.asset(identity.kind, identity.asset, "outputs")
        if identity.child is not None and detailed:
            builder.link(model, builder.child(identity.asset, identity.child, asset), "prediction")
        else:
            builder.link(model, asset, "predictions")
    return builder.graph


def _detailed(builder: _Builder, spec: ModelSpec, model: str) -> None:
    model_fqn = builder.graph.model
    for feature in spec.features:
        node = builder.add(("feature", feature.name), feature.name, "feature", parent="features",
                           ref=fqn.join(*fqn.split(model_fqn), feature.name))
        for source in feature.sources:
            identity = source_identity(source)
            asset = builder.asset(identity.kind, identity.asset)
            if identity.child is None:
                builder.link(asset, node)
            else:
                builder.link(builder.child(identity.asset, identity.child, asset), node)
        builder.link(node, model)


def _collapsed(builder: _Builder, spec: ModelSpec, model: str, children: int) -> None:
    feeds: dict[str, list[str]] = {}
    for feature in spec.features:
        for source in feature.sources:
            identity = source_identity(source)
            feeds.setdefault(builder.asset(identity.kind, identity.asset), [])
            if feature.name not in feeds[builder.asset(identity.kind, identity.asset)]:
                feeds[builder.asset(identity.kind, identity.asset)].append(feature.name)
    for asset, features in feeds.items():
        shown = ", ".join(features[:3]) + (f", +{len(features) - 3} more" if len(features) > 3 else "")
        builder.link(asset, model, f"{len(features)} feature{'s' if len(features) != 1 else ''}: {shown}")
    unsourced = [f.name for f in spec.features if not f.sources]
    builder.graph.notes.append(
        f"{len(spec.features)} features and {children} columns or fields collapsed into one edge per source "
        f"(more than {MAX_DETAILED_FEATURES} features or {MAX_DETAILED_CHILDREN} columns); "
        + (f"{len(unsourced)} feature(s) have no source" if unsourced else "every feature has a source"))


def _child_label(child: str) -> str:
    return ".".join(fqn.split(child))


def mark(graph: Graph, *, added_sources: list[str] = (), removed_sources: list[str] = (),
         added_features: list[str] = (), removed_features: list[str] = (), added_outputs: list[str] = (),
         removed_outputs: list[str] = (), added_columns: list[tuple[str, str]] = (),
         removed_columns: list[tuple[str, str]] = (), created: bool = False) -> Graph:
    """Colour a plan's changes: what it adds (everything, for a model it creates), and what it removes
    - drawn too, so a reviewer sees what goes away. ``added_columns`` / ``removed_columns``: the
    column-level pairs (from, to FQNs) the plan draws and takes away."""
    graph.marked = True
    by_label = {(n.kind, n.label): n for n in graph.nodes}
    if created:
        for node in graph.nodes:
            node.state = "added"
        for link in graph.links:
            link.state = "added"
        return graph
    model = next(n.id for n in graph.nodes if n.kind == "model")
    for name in added_features:
        node = by_label.get(("feature", name))
        if node is not None:
            node.state = "added"
            for link in graph.links:
                if node.id in (link.source, link.target):
                    link.state = "added"
    for name in removed_features:
        node = Node(f"n{len(graph.nodes)}", name, "feature", "features", "removed")
        graph.nodes.append(node)
        graph.links.append(Link(node.id, model, state="removed", dashed=True))
    _mark_columns(graph, added_columns, removed_columns)
    assets = {n.label: n for n in graph.nodes if n.kind in KIND_TITLES or n.kind == "asset"}
    for name in added_sources + added_outputs:
        if name in assets:
            assets[name].state = "added"
            for link in graph.links:
                if assets[name].id in (link.source, link.target) or _child_of(graph, link, assets[name].id):
                    link.state = "added"
    for name, downstream in [(n, False) for n in removed_sources] + [(n, True) for n in removed_outputs]:
        node = assets.get(name)
        if node is None:
            node = Node(f"n{len(graph.nodes)}", name, "asset", "removed", "removed")
            graph.nodes.append(node)
        else:
            node.state = "removed"
        ends = (model, node.id) if downstream else (node.id, model)
        graph.links.append(Link(*ends, state="removed", dashed=True))
    return graph


def _mark_columns(graph: Graph, added: list[tuple[str, str]], removed: list[tuple[str, str]]) -> None:
    by_ref, added = {n.ref: n for n in graph.nodes if n.ref}, set(added)
    for link in graph.links:
        ends = (graph.node(link.source), graph.node(link.target))
        if ends[0] and ends[1] and (ends[0].ref, ends[1].ref) in added:
            link.state = "added"
    for node in graph.nodes:  # a column or field whose every link is new is new itself
        if node.kind == "column":
            links = [l for l in graph.links if node.id in (l.source, l.target)]
            if links and all(l.state == "added" for l in links):
                node.state = "added"
    for source, target in removed:
        ends = [by_ref.get(source), by_ref.get(target)]
        if None in ends:
            continue  # a column of a removed edge or feature: drawn with it
        graph.links.append(Link(ends[0].id, ends[1].id, state="removed", dashed=True))


def _asset_groups() -> list[tuple[str, str, str]]:
    """(a node's parent value, the group's id suffix, its title): sources by kind, then labels, outputs, removed."""
    return ([(f"kind:{kind}", kind, title) for kind, title in KIND_TITLES.items()]
            + [(group, group, title) for group, title in GROUP_TITLES.items()])


def _child_of(graph: Graph, link: Link, asset: str) -> bool:
    child = graph.node(link.source)
    return child is not None and child.parent == asset


# --- Mermaid -------------------------------------------------------------------------------------

_MERMAID_CLASSES = {"added": "fill:#dafbe1,stroke:#1a7f37,stroke-width:2px,color:#0f5323",
                    "removed": "fill:#ffebe9,stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 5,color:#82071e"}
_MERMAID_LINKS = {"added": "stroke:#1a7f37,stroke-width:3px", "removed": "stroke:#cf222e,stroke-width:2px"}


def mermaid_text(text: str) -> str:
    """A label Mermaid shows as written: its entity codes for the characters its parser reads."""
    text = " ".join(str(text).split())  # no line breaks inside a label
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text


def mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    lines += [f"  %% {mermaid_text(note)}" for note in graph.notes]
    for group, name, title in _asset_groups():
        assets = [n for n in graph.nodes if n.parent == group]
        if assets:
            lines.append(f'  subgraph g_{name}["{title}"]')
            for asset in assets:
                lines += _mermaid_asset(graph, asset, "    ")
            lines.append("  end")
    features = [n for n in graph.nodes if n.parent == "features"]
    if features:
        lines.append('  subgraph g_features["Features"]')
        lines += [f'    {n.id}(["{_struck(n)}"])' for n in features]
        lines.append("  end")
    model = next(n for n in graph.nodes if n.kind == "model")
    lines.append(f'  {model.id}[["{mermaid_text(model.label)}"]]')
    if graph.notes:
        lines.append(f'  collapsed_note["{mermaid_text(graph.notes[0])}"]')
        lines.append("  style collapsed_note fill:#fff8c5,stroke:#9a6700,color:#4d2d00")
    for link in graph.links:
        arrow = "-.->" if link.dashed else "-->"
        label = f'|"{mermaid_text(link.label)}"|' if link.label else ""
        lines.append(f"  {link.source} {arrow}{label} {link.target}")
    if graph.marked:
        lines += _mermaid_legend()
        for state, style in _MERMAID_CLASSES.items():
            lines.append(f"  classDef {state} {style}")
            ids = [n.id for n in graph.nodes if n.state == state]
            if ids:
                lines.append(f"  class {','.join(ids)} {state}")
        legend_links = len(graph.links)
        for state, style in _MERMAID_LINKS.items():
            indexes = [str(i) for i, link in enumerate(graph.links) if link.state == state]
            indexes += [str(legend_links + (0 if state == "added" else 1))]
            lines.append(f"  linkStyle {','.join(indexes)} {style}")
    return "\n".join(lines) + "\n"


def _mermaid_asset(graph: Graph, asset: Node, indent: str) -> list[str]:
    children = [n for n in graph.nodes if n.parent == asset.id]
    if not children:
        return [f'{indent}{asset.id}[("{_struck(asset)}")]']
    lines = [f'{indent}subgraph {asset.id}["{_struck(asset)}"]']
    lines += [f'{indent}  {child.id}["{_struck(child)}"]' for child in children]
    return lines + [f"{indent}end"]


def _struck(node: Node) -> str:
    text = mermaid_text(node.label)
    return f"<s>{text}</s>" if node.state == "removed" else text


def _mermaid_legend() -> list[str]:
    return ['  subgraph g_legend["Legend"]', '    legend_added["added by this change"]',
            '    legend_removed["<s>removed by this change</s>"]', '    legend_same["unchanged"]',
            "    legend_same --> legend_added", "    legend_same -.-> legend_removed", "  end",
            "  class legend_added added", "  class legend_removed removed"]


# --- Graphviz DOT --------------------------------------------------------------------------------

_DOT_STATES = {"added": 'color="#1a7f37", fontcolor="#0f5323", penwidth=2',
               "removed": 'color="#cf222e", fontcolor="#82071e", style=dashed'}


def dot_text(text: str) -> str:
    return '"' + " ".join(str(text).split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(graph: Graph) -> str:
    lines = [f"digraph {dot_text(graph.model)} {{", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    lines += [f"  // {note}" for note in graph.notes]
    for group, name, title in _asset_groups():
        assets = [n for n in graph.nodes if n.parent == group]
        if assets:
            lines += [f"  subgraph cluster_{name} {{", f"    label={dot_text(title)};"]
            lines += _dot_assets(graph, assets)
            lines.append("  }")
    features = [n for n in graph.nodes if n.parent == "features"]
    if features:
        lines += ["  subgraph cluster_features {", '    label="Features";']
        lines += [f"    {n.id} [label={dot_text(n.label)}, shape=ellipse{_dot_state(n)}];" for n in features]
        lines.append("  }")
    model = next(n for n in graph.nodes if n.kind == "model")
    lines.append(f"  {model.id} [label={dot_text(model.label)}, shape=box3d, style=bold];")
    for link in graph.links:
        attributes = [f"label={dot_text(link.label)}"] if link.label else []
        attributes += ["style=dashed"] if link.dashed and link.state != "removed" else []
        attributes += [_DOT_STATES[link.state]] if link.state in _DOT_STATES else []
        lines.append(f"  {link.source} -> {link.target}" + (f" [{', '.join(attributes)}]" if attributes else "") + ";")
    if graph.marked:
        lines += ["  subgraph cluster_legend {", '    label="Legend";',
                  f'    legend_added [label="added by this change", {_DOT_STATES["added"]}];',
                  f'    legend_removed [label="removed by this change", {_DOT_STATES["removed"]}];',
                  '    legend_same [label="unchanged"];', "  }"]
    return "\n".join(lines) + "\n}\n"


def _dot_assets(graph: Graph, assets: list[Node]) -> list[str]:
    lines = []
    for asset in assets:
        children = [n for n in graph.nodes if n.parent == asset.id]
        if children:
            lines += [f"    subgraph cluster_{asset.id} {{", f"      label={dot_text(asset.label)};",
                      f'      {asset.id} [label="", shape=point, style=invis];']
            lines += [f"      {c.id} [label={dot_text(c.label)}{_dot_state(c)}];" for c in children]
            lines.append("    }")
        else:
            lines.append(f"    {asset.id} [label={dot_text(asset.label)}, shape=cylinder{_dot_state(asset)}];")
    return lines


def _dot_state(node: Node) -> str:
    return f", {_DOT_STATES[node.state]}" if node.state in _DOT_STATES else ""
