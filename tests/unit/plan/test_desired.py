"""The registry's address as the fingerprint counts it (``desired.registry_identity``)."""

from __future__ import annotations

import pytest

from mlmeta.plan.desired import registry_identity


@pytest.mark.parametrize("spelled", ["https://registry.example.com:8443/api", "https://registry.example.com:8443/api/",
                                     "HTTPS://Registry.Example.com:8443/api//", " https://registry.example.com:8443/api",
                                     "https://bot:s3cret@registry.example.com:8443/api/"])
def test_one_registry_however_its_url_is_spelled(spelled):
    assert registry_identity(spelled) == "https://registry.example.com:8443/api"


def test_a_plain_url_counts_as_it_always_did_so_existing_fingerprints_stay():
    for plain in ("http://127.0.0.1:5000", "https://mlflow.example.com/tracking", "http://[::1]:5000", None):
        assert registry_identity(plain) == plain


def test_different_registries_stay_different():
    assert len({registry_identity(u) for u in ("http://a:5000", "http://a:5001", "http://b:5000", "https://a:5000",
                                              "http://a:5000/other")}) == 5
