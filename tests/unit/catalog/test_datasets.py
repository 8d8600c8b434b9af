"""Mapping the datasets MLflow logged to catalog assets (pure), and the project file's rules."""

from __future__ import annotations

import json

import pytest

from mlmeta.catalog.datasets import DatasetRules, map_dataset, rules_from, table_parts
from mlmeta.config import load_settings
from mlmeta.errors import ConfigError
from mlmeta.registry.types import LoggedDataset

RULES = rules_from({"tables": {"postgres": "demo_pg.postgres", "main.sales": "dbx.main.sales", "*": "lake"},
                    "storage": {"s3://ml-training": "s3.ml-training",
                                "s3://ml-training/bot_detector/": "s3.ml-training.bot_detector",
                                "file:///data/shared": "local_fs.shared"}})


def logged(source_type: str, source: object, name: str = "d") -> LoggedDataset:
    text = source if isinstance(source, str) else json.dumps(source)
    return LoggedDataset(name, "abc123", source_type, text)


@pytest.mark.parametrize(("source_type", "source", "kind", "fqn"), [
    ("spark", {"table_name": "postgres.public.users"}, "table", "demo_pg.postgres.public.users"),
    ("delta_table", {"delta_table_name": "main.sales.orders"}, "table", "dbx.main.sales.orders"),
    ("spark", {"table_name": "svc.db.schema.t"}, "table", None),
    ("spark", {"table_name": "`my.db`.public.t"}, "table", 'lake."my.db".public.t'),
    ("s3", {"uri": "s3://ml-training/bot_detector/sessions.parquet"}, "container", "s3.ml-training.bot_detector"),
    ("s3", {"uri": "s3://ml-training/other/x.csv"}, "container", "s3.ml-training"),
    ("local", {"uri": "/data/shared/train.csv"}, "container", "local_fs.shared"),
    ("local", {"uri": "file:///data/shared/train.csv"}, "container", "local_fs.shared"),
])
def test_table_names_and_uris_map_by_the_longest_rule(source_type, source, kind, fqn):
    mapped = map_dataset(logged(source_type, source), RULES)
    if fqn is None:  # four parts and a "*" rule: the rule still applies, making five - not a table
        assert not mapped.mapped and "not service.database.schema.table" in mapped.reason
        return
    assert (mapped.kind, mapped.fqn) == (kind, fqn), mapped.reason


def test_a_four_part_name_is_a_table_fqn_without_any_rule():
    mapped = map_dataset(logged("spark", {"table_name": "demo_pg.postgres.public.users"}), DatasetRules())
    assert mapped.fqn == "demo_pg.postgres.public.users"


@pytest.mark.parametrize(("source_type", "source", "reason"), [
    ("spark", "{not json", "not a JSON object"),
    ("spark", "[1, 2]", "not a JSON object"),
    ("http", {"url": "https://example.com/holidays.csv"}, "no rule under [datasets.storage] in mlmeta.toml "
                                                          "([tool.mlmeta.datasets.storage] in pyproject.toml) covers"),
    ("local", {"uri": "data.csv"}, "relative path"),
    ("hugging_face", {"path": "imdb"}, "Hugging Face"),
    ("code", {}, "logged from code"),
    ("spark", {"sql": "select * from t"}, "SQL query"),
    ("spark", {"table_name": "public.users"}, "no rule under [datasets.tables] in mlmeta.toml"),
    ("spark", {"table_name": "a..b"}, "malformed"),
    ("s3", {"bucket": "x"}, "no table name or URI"),
    ("", "", "records no source"),
])
def test_what_no_rule_covers_is_unmapped_with_its_reason(source_type, source, reason):
    rules = DatasetRules() if source == {"table_name": "public.users"} else RULES  # RULES' "*" would map it
    mapped = map_dataset(logged(source_type, source), rules)
    assert not mapped.mapped and reason in mapped.reason


def test_backticks_hold_dots_in_a_spark_name():
    assert table_parts("`a.b`.c.d") == ["a.b", "c", "d"]
    assert table_parts("`open") is None


@pytest.mark.parametrize(("toml", "names"), [
    ('[tool.mlmeta.datasets.tables]\n"a.b.c.d" = "x"\n', 'datasets.tables."a.b.c.d"'),
    ('[tool.mlmeta.datasets.tables]\npg = "a.b.c.d"\n', "datasets.tables.pg"),
    ('[tool.mlmeta.datasets.tables]\npg = 3\n', "datasets.tables.pg"),
    ('[tool.mlmeta.datasets.storage]\n"ml-training" = "s3.bucket"\n', "datasets.storage.ml-training"),
    ('[tool.mlmeta.datasets.storage]\n"s3://b" = "onlyone"\n', 'datasets.storage."s3://b"'),
    ('[tool.mlmeta.datasets]\ntable = {}\n', "datasets.table"),
    ('[tool.mlmeta]\ndatasets = "x"\n', "datasets"),
    ('[tool.mlmeta]\ntraining_data = "draw"\n', "training_data"),
])
def test_a_rule_that_does_not_parse_is_a_configuration_error_naming_its_key(tmp_path, toml, names):
    (tmp_path / "pyproject.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(cwd=tmp_path, environ={})
    assert names in str(raised.value) and str(tmp_path / "pyproject.toml") in str(raised.value)


def test_the_project_file_gives_the_mode_and_the_rules(tmp_path):
    (tmp_path / "mlmeta.toml").write_text('training_data = "lineage"\n[datasets.tables]\n"*" = "pg.db"\n',
                                          encoding="utf-8")
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.training_data == "lineage"
    assert map_dataset(logged("spark", {"table_name": "public.t"}), settings.datasets).fqn == "pg.db.public.t"


@pytest.mark.parametrize(("file", "text", "section"), [
    ("mlmeta.toml", '[datasets.storage]\n"s3://other" = "s3.other"\n', "[datasets.storage] in mlmeta.toml"),
    ("mlmeta.toml", 'service = "ml"\n', "[datasets.storage] in mlmeta.toml"),
    ("pyproject.toml", '[tool.mlmeta.datasets.storage]\n"s3://other" = "s3.other"\n',
     "[tool.mlmeta.datasets.storage] in pyproject.toml"),
    ("pyproject.toml", '[tool.mlmeta]\nservice = "ml"\n', "[tool.mlmeta.datasets.storage] in pyproject.toml"),
])
def test_a_hint_names_the_section_as_the_projects_own_file_spells_it(tmp_path, file, text, section):
    """R012's reason said [tool.mlmeta.datasets.storage] to a project whose mlmeta.toml spells it [datasets.storage]."""
    (tmp_path / file).write_text(text, encoding="utf-8")
    rules = load_settings(cwd=tmp_path, environ={}).datasets
    mapped = map_dataset(logged("s3", {"uri": "s3://ml-training/x.csv"}), rules)
    assert mapped.reason == f"no rule under {section} covers s3://ml-training/x.csv"
    assert rules == DatasetRules(rules.tables, rules.storage)  # the spelling is no rule: fingerprints stay
