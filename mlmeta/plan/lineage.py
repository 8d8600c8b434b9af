"""Which lineage edges to add, update and remove so the catalog follows the spec (pure): upstream
from the assets the features, labels and training data come from, downstream to the assets the
predictions land in (``outputs``).

The server adds an edge from each feature source's entity when a model is created, and never
again. Later, mlmeta adds edges for new sources (marked as its own in lineageDetails), redraws
its edges whose column-level mapping changed, and removes the edges it owns whose source is
gone. It owns an edge when the details carry its marker, or when there are no details at all -
only the server's create-time edges have none. Edges anyone else made (their own details) are
never touched.

Column level: an edge's ``lineageDetails.columnsLineage`` maps the asset's columns or schema
fields (``fromColumns``, full FQNs) to the features they feed (``toColumn``, the feature's FQN,
which is the model's FQN and the feature's name). The server validates both ends against the
children of the two entities - an ML model's children are its features - and silently drops
any pair that names a child the entity does not have; mlmeta resolves every child first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlmeta.catalog.records import Edge
from mlmeta.plan.desired import FEATURE_SOURCE, LABEL_SOURCE, LINEAGE_MARKER, PREDICTIONS, WantedEdge


@dataclass
class LineagePlan:
    add: list[WantedEdge] = field(default_factory=list)
    update: list[WantedEdge] = field(default_factory=list)  # ours, with a different column mapping
    remove: list[Edge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.update or self.remove)


def description(model_fqn: str, wanted: WantedEdge) -> str:
    """What the edge stands for, e.g. "Feature source of svc.m; training data, MLflow run 4f2e,
    dataset users@a1b2 (managed by mlmeta)" - the marker makes it mlmeta's to redraw and remove."""
    said = []
    for role in wanted.roles:
        if role == FEATURE_SOURCE:
            said.append(f"Feature source of {model_fqn}")
        elif role == LABEL_SOURCE:
            said.append(f"Label source of {model_fqn}")
        elif role == PREDICTIONS:
            said.append(f"Predictions of {model_fqn}")
        else:  # training data, MLflow run <id>, dataset <name>@<digest>
            said.append(role)
    text = "; ".join(said)
    return f"{text[:1].upper()}{text[1:]} ({LINEAGE_MARKER})"


def details(model_fqn: str, wanted: WantedEdge) -> dict[str, Any]:
    result: dict[str, Any] = {"description": description(model_fqn, wanted), "source": "Manual"}
    if wanted.columns:
        result["columnsLineage"] = wanted.columns_lineage()
    return result


def owned(edge: Edge) -> bool:
    return edge.details is None or LINEAGE_MARKER in (edge.details.get("description") or "")


def stored_columns(edge: Edge) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """An edge's column mapping in WantedEdge's shape (sorted), whatever order the server keeps."""
    pairs = []
    for mapping in (edge.details or {}).get("columnsLineage") or []:
        sources = tuple(sorted(mapping.get("fromColumns") or []))
        if mapping.get("toColumn") and sources:
            pairs.append((mapping["toColumn"], sources))
    return tuple(sorted(pairs))


def as_wanted(model_fqn: str, edge: Edge, wanted: WantedEdge) -> bool:
    """The stored edge says what the wanted one would: its column mapping and what it stands for. An
    edge without details is the server's plain create-time edge from a feature source."""
    if stored_columns(edge) != wanted.columns:
        return False
    if edge.details is None or edge.details.get("description") is None:
        return wanted.drawn_at_create
    return edge.details["description"] == description(model_fqn, wanted)


def plan(model_fqn: str, wanted: list[WantedEdge], edges: list[Edge], *, downstream: bool = False) -> LineagePlan:
    """Upstream edges (the default) or downstream ones: only edges of that direction are compared."""
    edges = [e for e in edges if e.downstream == downstream]
    present = {e.asset_id: e for e in edges}
    ids = {w.source.id for w in wanted}
    result = LineagePlan(remove=[e for e in edges if owned(e) and e.asset_id not in ids])
    for edge_wanted in wanted:
        edge = present.get(edge_wanted.source.id)
        if edge is None:
            result.add.append(edge_wanted)
        elif owned(edge) and not as_wanted(model_fqn, edge, edge_wanted):
            result.update.append(edge_wanted)
    return result

