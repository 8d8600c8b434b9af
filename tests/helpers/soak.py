"""How long the outage tests keep a server down, and how often mlmeta probes it meanwhile: seconds in
the everyday suite, the issues' real minutes and intervals under ``make test-soak`` (``MLMETA_SOAK=1``)."""

from __future__ import annotations

import os


def soaking() -> bool:
    return bool(os.environ.get("MLMETA_SOAK"))


def outage(soak: float, default: float) -> float:
    """``default`` seconds in the everyday suite, the real ``soak`` ones under ``make test-soak``."""
    return soak if soaking() else default


def interval(soak: float, default: float) -> float:
    """How often a loop under test probes or polls: ``default`` seconds in the everyday suite (short, so
    an outage test need not wait long), the interval the issue names under ``make test-soak``."""
    return soak if soaking() else default
