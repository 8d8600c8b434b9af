"""The capabilities record (mlmeta.catalog.releases): versions, ranges and what each release does."""

from __future__ import annotations

import pytest

from mlmeta.catalog.releases import RULES, UnsupportedRelease, capabilities, parse_version


@pytest.mark.parametrize("text, numbers", [("1.12.14", (1, 12, 14)), ("1.5.15.2", (1, 5, 15, 2)),
                                           ("2.0.7-SNAPSHOT", (2, 0, 7)), ("1.9", (1, 9, 0)), ("v1.10.3", (1, 10, 3))])
def test_versions_parse_as_servers_and_sdks_write_them(text, numbers):
    assert parse_version(text).numbers == numbers


@pytest.mark.parametrize("text", ["", "latest", "one.two"])
def test_a_version_that_is_not_one_is_refused(text):
    with pytest.raises(UnsupportedRelease, match="not a release version"):
        capabilities(text)


def test_servers_older_than_1_5_are_refused():
    with pytest.raises(UnsupportedRelease, match="older than 1.5"):
        capabilities("1.4.8")


@pytest.mark.parametrize("version, on", [
    ("1.5.0", {"source_hash_bumps_version"}),
    ("1.5.7", {"source_hash_bumps_version", "table_cp"}),
    ("1.8.12", {"source_hash_bumps_version", "table_cp", "edge_audit"}),
    ("1.9.0", {"source_hash_bumps_version", "table_cp", "edge_audit", "domains", "if_match",
               "if_match_drops_entity_fields"}),
    ("1.11.9", {"table_cp", "edge_audit", "domains", "if_match", "if_match_drops_entity_fields"}),
    ("1.12.14", {"table_cp", "edge_audit", "domains", "if_match", "if_match_drops_entity_fields"}),
    ("1.13.1", {"table_cp", "edge_audit", "domains", "if_match", "if_match_drops_entity_fields"}),
    ("1.13.2", {"table_cp", "edge_audit", "domains", "if_match"}),
    ("2.0.7", {"table_cp", "edge_audit", "domains", "if_match", "content_etags", "strict_names"}),
])
def test_each_release_gets_the_behaviours_its_evidence_gives(version, on):
    release = capabilities(version)
    assert release.flags == on and not release.newer_than_known
    assert release.domain_field == ("domains" if "domains" in on else "domain")


def test_a_newer_release_than_any_known_behaves_as_the_newest():
    release = capabilities("2.1.3")
    assert release.newer_than_known and release.flags == capabilities("2.0.7").flags
    assert release.as_dict()["behaves_as"] == "2.0.x"


def test_the_sandbox_can_add_a_behaviour_a_release_does_not_have():
    assert capabilities("2.0.7", extra=frozenset({"if_match_drops_entity_fields"})).has("if_match_drops_entity_fields")


def test_every_rule_says_what_it_means_and_cites_its_evidence():
    for rule in RULES:
        assert rule.behaviour and rule.consequence and rule.releases
        assert any(word in rule.evidence for word in ("PR", "issue", "wheel", "generated")), rule.key
    switches = capabilities("1.9.3").switches()
    assert [s["key"] for s in switches] == [r.key for r in RULES]
    assert {s["key"] for s in switches if s["on"]} == capabilities("1.9.3").flags


def test_asking_for_a_behaviour_nobody_wrote_down_is_a_bug():
    with pytest.raises(KeyError):
        capabilities("2.0.7").has("telepathy")


def test_the_documented_compatibility_table_is_the_record():
    from mlmeta.tooling.docs_site import compatibility
    from mlmeta.catalog.releases import markdown_table
    from tests.helpers.files import REPO

    assert "<!-- mlmeta:compatibility -->" in (REPO / "docs" / "compatibility.md").read_text(encoding="utf-8")
    assert compatibility() == markdown_table()


def test_the_support_claim_says_what_it_rests_on():
    """Seen: the README's "works with any OpenMetadata from 1.5 to 2.0" beside "not checked against a
    running server" on the compatibility page."""
    from tests.helpers.files import REPO

    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "works with any OpenMetadata" not in readme
    assert "rests on each release's published schemas and server source, played by mlmeta's own sandbox" in readme
    assert "no running OpenMetadata server has checked it yet" in readme
    page = " ".join((REPO / "docs" / "compatibility.md").read_text(encoding="utf-8").split())
    assert "What this claim rests on, and nothing else:" in page and "none has confirmed the range yet" in page
