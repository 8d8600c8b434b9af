from __future__ import annotations

import pytest

from mlmeta.spec.yamlload import Position, YamlProblem, parse_yaml


def test_positions_of_keys_and_values_are_one_based():
    doc = parse_yaml("mlmeta: 1\nfeatures:\n  - name: a\n    type: numerical\n")
    span = doc.locate(("features", 0, "type"))
    assert span.start == Position(4, 11)
    assert span.key == Position(4, 5)
    assert doc.locate(("features", 0, "type"), at_key=True).start == Position(4, 5)


def test_locate_falls_back_to_the_nearest_parent():
    doc = parse_yaml("features:\n  - name: a\n")
    assert doc.locate(("features", 0, "sources", 3)).start == Position(2, 5)


def test_only_core_types_are_built_and_dates_stay_text():
    doc = parse_yaml("a: 1\nb: 0.5\nc: true\nd: ~\ne: 2024-01-01\nf: text\n")
    assert doc.data == {"a": 1, "b": 0.5, "c": True, "d": None, "e": "2024-01-01", "f": "text"}


def test_merge_keys_work_and_explicit_keys_win():
    doc = parse_yaml("base: &b {type: numerical, description: x}\nfeature:\n  <<: *b\n  description: y\n")
    assert doc.data["feature"] == {"description": "y", "type": "numerical"}


def test_duplicate_key_points_at_the_second_occurrence():
    with pytest.raises(YamlProblem) as problem:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (problem.value.code, problem.value.position) == ("Y002", Position(4, 3))


def test_aliases_are_fine_until_they_explode():
    doc = parse_yaml("src: &s {column: a.b.c.d.e}\nx: [*s, *s]\n")
    assert doc.data["x"] == [{"column": "a.b.c.d.e"}] * 2
    bomb = "a: &a [" + ",".join(["x"] * 50) + "]\n"
    for level in "bcdef":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ",".join([f"*{prev}"] * 50) + "]\n"
    with pytest.raises(YamlProblem) as problem:
        parse_yaml(bomb)
    assert problem.value.code == "Y003"
