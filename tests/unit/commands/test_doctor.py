"""``mlmeta doctor`` without the sandbox: a server that does not announce itself is not called the sandbox."""

from __future__ import annotations


def test_a_server_that_does_not_announce_itself_is_not_called_the_sandbox():
    from mlmeta.catalog.openmetadata import _announces_sandbox
    from mlmeta.catalog.releases import capabilities

    assert not _announces_sandbox({"Content-Type": "application/json"})
    assert _announces_sandbox({"x-mlmeta-sandbox": "mlmeta"})  # a proxy may change the header's case
    assert "sandbox" not in capabilities("1.12.3").summary()
