"""mlmeta explain CODE: one table says what each finding code means, why it happens, how to fix it,
with an example - for the command and for the documentation's finding-code page."""

from __future__ import annotations

import json
import re

import pytest

from mlmeta.diagnostics import CODES
from mlmeta.explanations import EXPLANATIONS, KINDS
from mlmeta.tooling.docs_site import finding_codes, finding_explanations


def test_every_code_is_explained_and_nothing_else_is():
    assert list(EXPLANATIONS) == list(CODES)  # the same codes, in the same order
    for code, explanation in EXPLANATIONS.items():
        assert code[0] in KINDS, code
        assert explanation.why and explanation.fix and explanation.example, code
    # an example that shows a finding shows this code's
    shown = {code: re.findall(r"\b(?:error|warning|notice) ([A-Z]\d{3})\b", e.example) for code, e in
             EXPLANATIONS.items()}
    assert {code: found for code, found in shown.items() if found and set(found) != {code}} == {}


def test_explain_says_what_why_how_and_shows_an_example(cli):
    result = cli("explain", "R002")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"R002: {CODES['R002']}\nkind: references")
    assert f"why: {EXPLANATIONS['R002'].why}" in result.stdout and f"fix: {EXPLANATIONS['R002'].fix}" in result.stdout
    assert "example:\n  " in result.stdout and "error R002 column 'premum' not found" in result.stdout
    assert cli("explain", "r2").stdout == result.stdout  # any case, zeros left out


def test_explain_as_json(cli):
    result = cli("explain", "--format", "json", "d009")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"version": 1, "command": "explain", "code": "D009", "kind": "drift",
                                         "meaning": CODES["D009"], "why": EXPLANATIONS["D009"].why,
                                         "fix": EXPLANATIONS["D009"].fix, "example": EXPLANATIONS["D009"].example}


@pytest.mark.parametrize("typed, said", [("R0022", "unknown finding code 'R0022'; did you mean R002?"),
                                          ("SO01", "unknown finding code 'SO01'; did you mean S001?"),
                                          ("nonsense", "unknown finding code 'nonsense'")])
def test_an_unknown_code_is_a_usage_error_with_a_did_you_mean(cli, typed, said):
    result = cli("explain", typed)
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    as_json = cli("explain", "--format", "json", typed)
    assert as_json.exit_code == 2 and said in json.loads(as_json.stdout)["error"]["message"]


def test_without_a_code_every_code_is_listed(cli):
    result = cli("explain", "--format", "json")
    assert [c["code"] for c in json.loads(result.stdout)["codes"]] == list(CODES)


def test_the_documentation_page_says_what_explain_says():
    page = finding_codes() + finding_explanations()
    for code, explanation in EXPLANATIONS.items():
        assert f"[{code}](#{code.lower()}-explained)" in page
        assert f'<span id="{code.lower()}-explained"></span>{code}: {CODES[code]}' in page
        assert explanation.why in page and explanation.fix in page and explanation.example in page
