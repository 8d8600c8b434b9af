"""Names from the registry are any user's: one that no filter can hold fails nothing else.

The attack (issue 30): MLflow accepts registered-model names with a backslash or a quote, and
mlmeta put them unescaped into ``filter=name IN ('...')``. MLflow answered 400, and ``publish
--all``, ``plan`` and ``watch`` exited 3 for every model. Against a real MLflow server.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from mlmeta.registry.mlflow import filter_literal
from tests.helpers.files import write
from tests.helpers.publishing import SPEC

# (a double quote is refused offline, S004: OpenMetadata's FQNs cannot hold one)
NAMES = {"plain_model": "plain_model", "backslash_model": "team\\model", "quote_model": "it's_model",
         "percent_model": "100%_model", "trailing_backslash_model": "model\\"}
def test_publish_plan_and_watch_handle_every_name_beside_the_others(cli, env, sandbox, registry, in_tmp):
    for spec_name, registered in NAMES.items():
        registry.alias(registered, registry.register(registered))
        write(in_tmp / "model_specs" / f"{spec_name}.yaml",
              SPEC.format(name=spec_name, registered=json.dumps(registered)))
    plan = cli("plan", "--format", "json", env=env)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert {m["production"]["registered_model"] for m in json.loads(plan.stdout)["models"]} == set(NAMES.values())
    published = cli("publish", "--all", "--format", "json", env=env)
    assert published.exit_code == 0, published.stdout + published.stderr
    assert json.loads(published.stdout)["summary"]["created"] == len(NAMES)
    watched = cli("watch", "--once", "--format", "json", env=env)
    assert watched.exit_code == 0, watched.stdout + watched.stderr


@given(st.text(max_size=40))
def test_a_quoted_filter_value_is_one_plain_string_literal_or_nothing(name):
    quoted = filter_literal(name)
    if quoted is None:
        assert any(c in name for c in "'\"\\") or not name.isprintable() or not name
        return
    import ast

    import sqlparse

    assert ast.literal_eval(quoted) == name  # how MLflow reads an IN list
    [statement] = sqlparse.parse(f"name IN ({quoted})")
    tokens = [t for t in statement.flatten() if not t.is_whitespace]
    assert [t.value for t in tokens if t.ttype in sqlparse.tokens.String.Single] == [quoted]
