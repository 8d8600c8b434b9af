"""Checking a write against what was meant (mlmeta.plan.verify), without a server."""

from __future__ import annotations

from mlmeta.catalog.releases import capabilities
from mlmeta.plan.desired import Desired
from mlmeta.plan.verify import expected_version, unheld, why_read_back

NEW, OLD = capabilities("2.0.7"), capabilities("1.8.12")
FEATURES = [{"name": "tenure", "dataType": "numerical"}]


def desired(**fields) -> Desired:
    return Desired("svc", "m", "svc.m", {"description": "new", "sourceHash": "mlmeta:2", **fields}, [])


def before(**fields) -> dict:
    return {"id": "1", "version": 0.2, "updatedBy": "someone", "description": "old", "sourceHash": "mlmeta:1",
            **fields}


def answer(version: float, names: list[str], **fields) -> dict:
    change = {"fieldsAdded": [], "fieldsUpdated": [{"name": n} for n in names], "fieldsDeleted": []}
    return {**before(), "description": "new", "sourceHash": "mlmeta:2", "version": version,
            "changeDescription": change, **fields}


def test_versions_move_as_the_server_moves_them():
    assert expected_version(0.2, ["description"], NEW) == 0.3
    assert expected_version(0.2, ["target", "description"], NEW) == 1.2
    assert expected_version(0.2, ["sourceHash"], NEW) == 0.2
    assert expected_version(0.2, ["sourceHash"], OLD) == 0.3


def test_an_answer_that_holds_the_change_at_the_right_version_is_proof_enough():
    wanted = desired(mlFeatures=FEATURES)
    written = ["description", "mlFeatures", "sourceHash"]
    good = answer(0.3, ["description", "mlFeatures"], mlFeatures=FEATURES)
    assert why_read_back(before(), good, wanted, written, release=NEW, guarded_by_if_match=True, user="bot") is None


def test_issue_28876_is_caught_by_its_answer():
    """Only ML-model fields changed: echoed, version not moved, change description empty."""
    wanted = desired(mlFeatures=FEATURES)
    echoed = {**answer(0.2, []), "description": "old", "mlFeatures": FEATURES}
    why = why_read_back(before(description="new"), echoed, desired(description="new", mlFeatures=FEATURES),
                        ["mlFeatures", "sourceHash"], release=NEW, guarded_by_if_match=True, user="bot")
    assert why == "the answer says version 0.2, the change makes it 0.3"
    # beside a top-level change the version moves by 0.1 as expected, but the answer names no feature
    mixed = answer(0.3, ["description"], mlFeatures=FEATURES)
    why = why_read_back(before(), mixed, wanted, ["description", "mlFeatures"], release=NEW,
                        guarded_by_if_match=True, user="bot")
    assert why == "the answer's change description does not name mlFeatures"


def test_what_the_version_cannot_tell_is_read_back():
    only_stamp = answer(0.2, [])
    assert why_read_back(before(), only_stamp, desired(), ["sourceHash"], release=NEW, guarded_by_if_match=True,
                         user="bot") == "the change moves no version"
    ours = before(updatedBy="bot")
    assert "consolidation" in why_read_back(ours, answer(0.3, ["description"]), desired(), ["description"],
                                            release=OLD, guarded_by_if_match=False, user="bot")


def test_an_answer_missing_a_field_is_named():
    assert unheld({"description": "old"}, desired(), ["description"]) == ["description"]
    assert unheld(None, desired(), ["description", "sourceHash"]) == ["description", "sourceHash"]
    assert why_read_back(before(), {**answer(0.3, ["description"]), "description": "old"}, desired(), ["description"],
                         release=NEW, guarded_by_if_match=True, user="bot") == "the answer does not hold description"
