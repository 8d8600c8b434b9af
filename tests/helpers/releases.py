"""The OpenMetadata releases tests play, named from where they are recorded once: the minors mlmeta
speaks to (``mlmeta.catalog.releases``) and the newest patch of each minor the sandbox plays
(``mlmeta.standins.openmetadata.schemas.WHEELS``), so that a new patch changes one line of mlmeta."""

from __future__ import annotations

from mlmeta.catalog.releases import NEWEST_KNOWN, OLDEST
from mlmeta.standins.openmetadata.schemas import WHEELS


def newest_patch(minor: tuple[int, int]) -> str:
    """The version a server of ``minor``'s newest patch reports: the SDK wheel's first three numbers."""
    return ".".join(WHEELS[minor].split(".")[:3])


OLDEST_PLAYED = newest_patch(OLDEST)
NEWEST_PLAYED = newest_patch(NEWEST_KNOWN)
