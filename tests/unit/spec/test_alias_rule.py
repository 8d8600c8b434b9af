"""When an alias no version carries is a typo (R014) and when the model is just not in production
yet - the rule docs/spec.md states, row by row (pure: no server)."""

from __future__ import annotations

import pytest

from mlmeta.config import Settings
from mlmeta.registry.table import mistyped_alias, wanted_of
from mlmeta.registry.types import Promotion
from mlmeta.spec.load import load_spec
from tests.helpers.files import GOOD_SPEC, write


def spec(tmp_path, alias: str | None):
    text = GOOD_SPEC + ("mlflow:\n  alias: " + alias + "\n" if alias else "")
    return load_spec(write(tmp_path / "m.yaml", text)).spec.spec


SETTINGS = Settings(sources={"alias": "alias in mlmeta.toml"})


@pytest.mark.parametrize("in_spec, carried, stage_found, typo", [
    (None, {"champion": "2"}, False, None),  # carried: in Production
    (None, {}, False, None),  # no alias at all yet: not in production yet
    ("champoin", {}, False, None),
    ("champoin", {"champion": "2"}, False, "did you mean 'champion'? (v2 carries it)"),
    ("Champion", {"champion": "2"}, False, "did you mean 'champion'?"),
    ("champoin", {"champion": "2"}, True, "did you mean 'champion'?"),  # a stage would find one: still a typo
    ("production", {"champion": "2", "challenger": "3"}, False,
     "its versions carry 'challenger' (v3), 'champion' (v2)"),  # named in the spec, others carried
    (None, {"challenger": "3"}, False, None),  # the project's alias, a challenger before the first champion
    (None, {"champions": "3"}, False, "(the project's alias, from alias in mlmeta.toml); did you mean 'champions'?"),
])
def test_the_alias_rule(tmp_path, in_spec, carried, stage_found, typo):
    model = spec(tmp_path, in_spec)
    wanted = wanted_of(model, SETTINGS)
    promotion = Promotion("churn", "1", "stage", "Production") if stage_found else None
    found = mistyped_alias(model, wanted, promotion, carried, SETTINGS)
    if typo is None:
        assert found is None
    else:
        loc, message = found
        assert loc == (("mlflow", "alias") if in_spec else ("name",))
        assert typo in message
