"""Our dependency-free FQN parser against the official SDK's: it accepts and builds exactly what the SDK
does. Not a unit test only because it imports the SDK (seconds)."""

from __future__ import annotations

import pytest

from mlmeta.catalog import fqn
from tests.unit.catalog.test_fqn import BAD, CASES  # the cases the unit tests hold our parser to


def test_agrees_with_the_official_sdk():
    """Our dependency-free parser must accept and build exactly what the SDK does."""
    from metadata.utils import fqn as sdk

    for text in CASES:
        assert [sdk.unquote_name(p) for p in sdk.split(text)] == fqn.split(text)
    for text in BAD:
        with pytest.raises(Exception):
            sdk.split(text)
    for name in ["plain", "has.dot", "with space", "x.y.z"]:
        assert sdk.quote_name(name) == fqn.quote(name)
