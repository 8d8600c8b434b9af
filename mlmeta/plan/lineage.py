"""Which feature lineage edges to add and remove so the catalog follows the spec (pure).

The server adds an edge from each feature source's entity when a model is created, and never
again. Later, mlmeta adds edges for new sources (marked as its own in lineageDetails) and
removes the edges it owns whose source is gone. It owns an edge when the details carry its
marker, or when there are no details at all - only the server's create-time edges have none.
Edges anyone else made (their own details) are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlmeta.catalog import Edge, Ref
from mlmeta.plan.desired import LINEAGE_MARKER


@dataclass
class LineagePlan:
    add: list[Ref] = field(default_factory=list)
    remove: list[Edge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove)


def details(model_fqn: str) -> dict[str, str]:
    return {"description": f"Feature source of {model_fqn} ({LINEAGE_MARKER})", "source": "Manual"}


def owned(edge: Edge) -> bool:
    return edge.details is None or LINEAGE_MARKER in (edge.details.get("description") or "")


def plan(sources: list[Ref], edges: list[Edge]) -> LineagePlan:
    present = {e.from_id for e in edges}
    wanted = {s.id for s in sources}
    return LineagePlan(add=[s for s in sources if s.id not in present],
                       remove=[e for e in edges if owned(e) and e.from_id not in wanted])
