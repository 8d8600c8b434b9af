"""``--select`` on plan, publish, drift, pull and watch against the servers: each acts on the selection
only (the selectors themselves, offline: tests/unit/spec/test_selection.py)."""

from __future__ import annotations

import json
import uuid

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, publish


def test_plan_publish_drift_pull_and_watch_act_on_the_selection_only(cli, env, registry, in_tmp, tmp_path):
    names = [f"sel_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name, tier in zip(names, ("Tier1", "Tier2")):
        write(in_tmp / "model_specs" / f"{name}.yaml",
              SPEC.format(name=name, registered=name).replace("target:", f"tags: [Tier.{tier}]\ntarget:"))
        registry.alias(name, registry.register(name))
    chosen = ["--select", "tag:Tier.Tier1"]

    planned = cli("plan", "--format", "json", *chosen, env=env)
    assert planned.exit_code == 0, planned.stdout
    assert [m["model"] for m in json.loads(planned.stdout)["models"]] == [f"mlflow_models.{names[0]}"]
    code, out = publish(cli, env, *chosen)  # --select alone says which specs to publish
    assert code == 0 and [m["model"] for m in out["models"]] == [f"mlflow_models.{names[0]}"], out

    # the other model was never published: a selection is no complete set, so nothing is "gone"
    drift = cli("drift", "--format", "json", *chosen, env=env)
    assert drift.exit_code == 0, drift.stdout
    assert json.loads(drift.stdout)["summary"]["checked"] == 1
    pulled = cli("pull", "--dry-run", "--format", "json", *chosen, env=env)
    assert pulled.exit_code == 0 and json.loads(pulled.stdout)["summary"]["checked"] == 1, pulled.stdout

    checkpoint = tmp_path / "checkpoint.json"
    watched = cli("watch", "--once", "--checkpoint", str(checkpoint), "--select", "name:nothing_*", env=env)
    assert watched.exit_code == 0, watched.stderr
    assert "--select name:nothing_* matches none of the 2 spec(s)" in watched.stderr
    followed = json.loads(checkpoint.read_text())["keys"]
    assert followed == {}, followed
    cli("watch", "--once", "--checkpoint", str(checkpoint), *chosen, env=env)
    assert [key.split("|")[0] for key in json.loads(checkpoint.read_text())["keys"]] == [names[0]]
