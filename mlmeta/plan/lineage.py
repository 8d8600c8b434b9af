"""Which feature lineage edges to add, update and remove so the catalog follows the spec (pure).

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

from mlmeta.catalog import Edge
from mlmeta.plan.desired import LINEAGE_MARKER, WantedEdge


@dataclass
class LineagePlan:
    add: list[WantedEdge] = field(default_factory=list)
    update: list[WantedEdge] = field(default_factory=list)  # ours, with a different column mapping
    remove: list[Edge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.update or self.remove)


def details(model_fqn: str, wanted: WantedEdge) -> dict[str, Any]:
    result: dict[str, Any] = {"description": f"Feature source of {model_fqn} ({LINEAGE_MARKER})", "source": "Manual"}
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


def plan(wanted: list[WantedEdge], edges: list[Edge]) -> LineagePlan:
    present = {e.from_id: e for e in edges}
    ids = {w.source.id for w in wanted}
    result = LineagePlan(remove=[e for e in edges if owned(e) and e.from_id not in ids])
    for edge_wanted in wanted:
        edge = present.get(edge_wanted.source.id)
        if edge is None:
            result.add.append(edge_wanted)
        elif owned(edge) and stored_columns(edge) != edge_wanted.columns:
            result.update.append(edge_wanted)
    return result

