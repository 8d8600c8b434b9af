"""Names a person can trust (issue 30, point 10).

A spec from a pull request, or a registered model any registry user created, may hold a name that
reads differently from what it is: a right-to-left override turns ``fraud<RLO>gnp.exe`` into
``fraudexe.png`` on screen, a zero-width space makes two names look the same, a line break forges
a line of a log. ``mlmeta validate`` refuses them offline in every name (S011), at the value's
line and column, naming the code point; free text gets a warning (S012) for what reorders or
hides it. A registry name holding one is a problem of its own in ``watch --all-models``: that
model is left out, every other one goes on.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeta import names
from mlmeta.spec import rules
from tests.helpers.files import write

# A valid spec; {value} marks the one place a test puts a name into (always inside double quotes,
# so that YAML's escapes can write any character).
TEMPLATE = """\
mlmeta: 1
name: {name}
display_name: {display_name}
service: {service}
mlflow:
  registered_model: {registered_model}
  alias: {alias}
owners:
  users: [{user}]
tags: [{tag}]
features:
  - name: {feature}
    type: numerical
    sources:
      - column: {column_fqn}
      - table: {table}
        column: {column}
hyperparameters:
  {hyperparameter}: {{}}
"""
PLAIN = {"name": "churn", "display_name": "Churn", "service": "ml_models", "registered_model": "churn",
         "alias": "champion", "user": "alice", "tag": "Tier.Tier1", "feature": "tenure",
         "column_fqn": "svc.db.public.users.tenure", "table": "svc.db.public.orders", "column": "amount",
         "hyperparameter": "n_estimators"}
# the path a finding names for each place (a hyperparameter is a key: its finding names what it is)
SHOWN_AS = {"name": "name", "display_name": "display_name", "service": "service",
            "registered_model": "mlflow.registered_model", "alias": "mlflow.alias", "user": "owners.users[0]",
            "tag": "tags[0]", "feature": "features[0].name", "column_fqn": "features[0].sources[0].column",
            "table": "features[0].sources[1].table", "column": "features[0].sources[1].column",
            "hyperparameter": "hyperparameter name"}
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
        "\u061c"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061", "\U000e0041", "\u3164",
             "\ufe0f", "\u034f"]
CONTROL = ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


def quoted(value: str) -> str:
    """A YAML double-quoted scalar holding any character as an escape (YAML has \\U for the astral planes)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if " " <= c <= "~" else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                         for c in escaped) + '"'


def spec_text(place: str, value: str) -> str:
    return TEMPLATE.format(**{key: quoted(value if key == place else plain) for key, plain in PLAIN.items()})


def position(text: str, place: str, value: str) -> tuple[int, int]:
    """The 1-based line and column of the quoted value in the spec's text."""
    quoted_value = quoted(value)
    for number, line in enumerate(text.splitlines(), 1):
        if quoted_value in line:
            return number, line.index(quoted_value) + 1
    raise AssertionError(f"{quoted_value} not in the spec")


def validate(cli, path, *args) -> tuple[int, list[dict]]:
    result = cli("validate", "--format", "json", *args, str(path))
    return result.exit_code, json.loads(result.stdout)["diagnostics"]


def test_the_plain_spec_is_valid(cli, in_tmp):
    path = write(in_tmp / "m.yaml", TEMPLATE.format(**{k: quoted(v) for k, v in PLAIN.items()}))
    assert validate(cli, path) == (0, [])


@pytest.mark.parametrize("place", list(PLAIN))
def test_a_right_to_left_override_in_any_name_is_refused_at_its_line_with_the_code_point_named(cli, in_tmp, place):
    value = PLAIN[place][:2] + "\u202e" + PLAIN[place][2:]
    text = spec_text(place, value)
    path = write(in_tmp / "m.yaml", text)
    code, findings = validate(cli, path)
    assert code == 1
    [finding] = [f for f in findings if f["code"] == "S011"]
    assert (finding["line"], finding["column"]) == position(text, place, value)
    assert finding["message"].startswith(SHOWN_AS[place] + ": character 3 of ")
    assert "U+202E RIGHT-TO-LEFT OVERRIDE, a bidirectional control" in finding["message"]
    assert "\u202e" not in finding["message"] and "\\u202e" in finding["message"]  # shown, never acted on


@pytest.mark.parametrize("char", BIDI + INVISIBLE + CONTROL, ids=lambda c: f"U+{ord(c):04X}")
def test_every_bidirectional_invisible_or_control_character_is_refused_in_a_feature_name(cli, in_tmp, char):
    path = write(in_tmp / "m.yaml", spec_text("feature", f"ten{char}ure"))
    code, findings = validate(cli, path)
    assert code == 1
    s011 = [f for f in findings if f["code"] == "S011"]
    assert len(s011) == 1 and f"U+{ord(char):04X} " in s011[0]["message"]
    assert char not in s011[0]["message"]


def test_the_same_characters_are_refused_in_the_text_format_with_their_names(cli, in_tmp):
    path = write(in_tmp / "m.yaml", spec_text("feature", "ten\x00u\u200bre"))
    result = cli("validate", str(path))
    assert result.exit_code == 1
    assert "features[0].name: character 4 of 'ten\\x00u\\u200bre' is U+0000 NULL, a control character (and 1 more)" \
        in result.stdout


def test_letters_of_every_script_stay_valid(cli, in_tmp):
    """Arabic, Hebrew, Devanagari, Chinese and accented names are names: only what hides or moves text is refused."""
    for value in ("نموذج_الاحتيال", "מודל", "मॉडल", "欺诈模型", "modèle_fraude", "Betrugs-Modell 2"):
        path = write(in_tmp / "m.yaml", spec_text("feature", value))
        assert validate(cli, path) == (0, []), value


def test_a_bidi_override_in_a_description_is_a_warning_and_an_error_with_strict(cli, in_tmp):
    text = spec_text("feature", "tenure").replace(
        "service:", 'description: "Scores orders.\\nApproved by \\u202eyrrah\\u202c."\nservice:')
    path = write(in_tmp / "m.yaml", text)
    code, findings = validate(cli, path)
    assert code == 0
    [finding] = findings
    assert (finding["code"], finding["severity"], finding["line"]) == ("S012", "warning", 4)
    assert finding["message"].startswith("description: character 13 of the text's line 2 is U+202E RIGHT-TO-LEFT "
                                         "OVERRIDE, a bidirectional control (and 1 more)")
    assert validate(cli, path, "--strict")[0] == 1


def test_right_to_left_prose_with_its_marks_and_joiners_is_no_finding(cli, in_tmp):
    """Line breaks, tabs, the directional marks and the zero-width (non-)joiner are how such prose is written."""
    prose = "ارزیابی\u200cشده روی داده\u200cهای ۲۰۲۴.\n\tשלום \u200fעולם\u200f (v2)"
    text = spec_text("feature", "tenure").replace("service:", f"description: {quoted(prose)}\nservice:")
    assert validate(cli, write(in_tmp / "m.yaml", text)) == (0, [])


def test_the_default_service_and_alias_a_project_file_gives_every_spec_are_names_too(cli, in_tmp):
    path = write(in_tmp / "m.yaml", TEMPLATE.format(**{k: quoted(v) for k, v in PLAIN.items()}))
    for setting in ('service = "ml_\\u200bmodels"', 'alias = "champ\\u202eion"'):
        write(in_tmp / "mlmeta.toml", setting + "\n")
        result = cli("validate", str(path))
        assert result.exit_code == 2, setting
        assert f"{setting.split()[0]} in {in_tmp / 'mlmeta.toml'}: character " in result.stderr
        assert "U+200B ZERO WIDTH SPACE" in result.stderr or "U+202E RIGHT-TO-LEFT OVERRIDE" in result.stderr


# --- the rule itself, over any name ------------------------------------------------------------------

REFUSED = st.sampled_from(BIDI + INVISIBLE + CONTROL + ["\U000e0001", "\ufff9", "\u2064", "\U000e0100"])
READABLE = st.text(st.characters(categories=("L", "N", "Pd", "Pc", "Zs"), exclude_characters='"'),
                   min_size=1, max_size=20).map(str.strip).filter(bool)


@settings(max_examples=300, deadline=None)
@given(READABLE, REFUSED, st.integers(min_value=0))
def test_any_name_holding_a_refused_character_is_s011_and_no_readable_name_is(readable, char, at):
    at %= len(readable) + 1
    data = {"mlmeta": 1, "name": "m", "features": [{"name": readable, "type": "numerical"}]}
    assert [f.code for f in rules.check(data, _nowhere())] == []
    data["features"][0]["name"] = readable[:at] + char + readable[at:]
    [finding] = rules.check(data, _nowhere())
    assert (finding.code, finding.loc) == ("S011", ("features", 0, "name"))
    assert f"character {at + 1} of " in finding.message and char not in finding.message


def _nowhere():
    from pathlib import Path

    return Path("/nonexistent")


def test_every_code_point_is_named_even_the_controls_unicode_leaves_unnamed():
    assert names.in_name("a\x00b")[0].describe() == "U+0000 NULL"
    assert names.in_name("a\x9bb")[0].describe() == "U+009B <control>"
    assert names.in_name("a\u202eb")[0].describe() == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert names.in_name("a\U000e0041")[0].describe() == "U+E0041 TAG LATIN CAPITAL LETTER A"


# --- names from the registry --------------------------------------------------------------------------
def test_a_registry_name_with_such_characters_is_left_out_of_watch_all_models_and_the_others_go_on(
        in_tmp, registry, sandbox, mlflow_server, monkeypatch, tmp_path):
    from tests.helpers.projects import make_project
    from tests.helpers.watching import events, watcher

    make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "named", 1)
    tag = uuid.uuid4().hex[:8]
    fine, spoofed, forged = f"orphan_{tag}", f"invoice_{tag}\u202egnp.exe", f"orphan_{tag}\nwatch - forged line"
    for name in (fine, spoofed, forged):
        registry.register(name)
    watch, progress = watcher(tmp_path, all_models=True)
    watch.run()  # the baseline
    for name in (fine, spoofed, forged):
        registry.alias(name, "1")
    assert watch.run() == 1  # a problem to fix: exit 1 for --once
    announced = [e["data"]["name"] for e in events(tmp_path)]
    assert fine in announced and spoofed not in announced and forged not in announced
    said = [line for line in progress if f"_{tag}" in line and "not watched" in line]
    assert any("U+202E RIGHT-TO-LEFT OVERRIDE" in line and "rename it in the registry" in line for line in said)
    assert any("U+000A LINE FEED" in line for line in said)
    assert not any("\u202e" in line or "\n" in line for line in progress)  # nothing printed acts on the log
