"""Training data's outputs are checked offline."""

from __future__ import annotations

import json

from tests.helpers.files import write
from tests.helpers.publishing import SPEC


def test_outputs_are_checked_offline(cli, in_tmp):
    spec = write(in_tmp / "s.yaml", SPEC.format(name="m", registered="m").replace("hyperparameters:", """\
outputs:
  - topic: kafka.results
    column: score
  - table: svc.db.public.scores
    column: score
    features: [is_premium, tenure]
  - table: svc.db.public.scores
    column: score
hyperparameters:"""))
    result = cli("validate", "--format", "json", str(spec))
    found = {(d["code"], d["message"].split(":")[0]) for d in json.loads(result.stdout)["diagnostics"]}
    assert result.exit_code == 1
    assert found == {("S005", "outputs[0].column"), ("S004", "outputs[1].features[1]"), ("S006", "outputs[2]")}
