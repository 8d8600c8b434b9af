"""``mlmeta card`` offline: names that would break the YAML front matter are written safely."""

from __future__ import annotations

from huggingface_hub import ModelCard

from tests.helpers.files import write


def test_names_that_would_break_yaml_front_matter_are_written_safely(cli, in_tmp):
    spec = write(in_tmp / "odd.yaml", """\
mlmeta: 1
name: 'odd: #1'
service: ml
display_name: "Odd: a 'model' # with: colons"
tags: ['Class.With: colon #hash']
model_card:
  license: 'other'
  intended_use: "---\\nnot: front matter\\n---"
features:
  - name: 'a: b'
    type: numerical
""")
    result = cli("card", str(spec))
    assert result.exit_code == 0, result.stderr
    card = ModelCard(result.stdout)
    assert card.data.tags == ["mlmeta", "Class.With: colon #hash"]
    # (a line break in a display name is refused by validate: S011, like in any name)
    assert "# Odd: a 'model' # with: colons\n" in card.text and "not: front matter" in card.text
    assert "MLFLOW_TRACKING_URI is not set" in result.stderr
