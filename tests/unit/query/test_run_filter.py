"""MLflow's search_runs grammar (anchors-ml.md §4.2): what it accepts parses to the same
comparisons; what it rejects is refused with the position and the reason. Compiled SQL never
contains a user value or key: they are bound parameters."""

from __future__ import annotations

import pytest

from driftline.errors import InvalidInputError
from driftline.query.run_filter import Comparison, FilterError, parse_filter, parse_order_by
from driftline.storage.runs_sql import compile_filter

ACCEPTED: list[tuple[str, list[tuple[str, str, str, object]]]] = [
    ("", []),
    ("metrics.accuracy > 0.9", [("metric", "accuracy", ">", 0.9)]),
    ("metric.rmse <= 1e-3", [("metric", "rmse", "<=", 0.001)]),
    ("metrics.loss != -2", [("metric", "loss", "!=", -2.0)]),
    ("metrics.val.acc >= .5", [("metric", "val.acc", ">=", 0.5)]),
    ("metrics.`system/cpu` < 90", [("metric", "system/cpu", "<", 90.0)]),
    ('metrics."my metric" = 1', [("metric", "my metric", "=", 1.0)]),
    ("params.lr = '0.01'", [("param", "lr", "=", "0.01")]),
    ('param.model = "cnn"', [("param", "model", "=", "cnn")]),
    ("parameter.x != 'a'", [("param", "x", "!=", "a")]),
    ("parameters.opt LIKE 'ad%'", [("param", "opt", "LIKE", "ad%")]),
    ("params.opt ilike 'AD%'", [("param", "opt", "ILIKE", "AD%")]),
    ("params.seed IS NULL", [("param", "seed", "IS NULL", None)]),
    ("tags.team is not null", [("tag", "team", "IS NOT NULL", None)]),
    ("tag.`team name` = 'search'", [("tag", "team name", "=", "search")]),
    ("attributes.status = 'FINISHED'", [("attribute", "status", "=", "FINISHED")]),
    ("attribute.run_name LIKE 'lr-%'", [("attribute", "run_name", "LIKE", "lr-%")]),
    ("attr.user_id != 'bot'", [("attribute", "user_id", "!=", "bot")]),
    ("run.artifact_uri ILIKE 's3://%'", [("attribute", "artifact_uri", "ILIKE", "s3://%")]),
    ("status = 'RUNNING'", [("attribute", "status", "=", "RUNNING")]),  # no prefix: attribute
    ("`attributes`.`run name` = 'x'", [("attribute", "run_name", "=", "x")]),
    ("attributes.start_time > 1700000000000", [("attribute", "start_time", ">", 1700000000000)]),
    ("attributes.created <= 5", [("attribute", "start_time", "<=", 5)]),
    ("attributes.end_time != 0", [("attribute", "end_time", "!=", 0)]),
    (
        "attributes.run_id IN ('a1', \"b2\")",
        [("attribute", "run_id", "IN", ("a1", "b2"))],
    ),
    ("attributes.run_id not in ('a1')", [("attribute", "run_id", "NOT IN", ("a1",))]),
    ("datasets.name = 'train'", [("dataset", "name", "=", "train")]),
    ("dataset.digest IN ('d1', 'd2')", [("dataset", "digest", "IN", ("d1", "d2"))]),
    ("params.q = 'it''s'", [("param", "q", "=", "it's")]),
    (
        "metrics.accuracy > 0.9 and params.lr = '0.01' AND tags.team = 'search'",
        [
            ("metric", "accuracy", ">", 0.9),
            ("param", "lr", "=", "0.01"),
            ("tag", "team", "=", "search"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepts_what_mlflow_accepts(
    text: str, expected: list[tuple[str, str, str, object]]
) -> None:
    got = [(c.entity, c.key, c.comparator, c.value) for c in parse_filter(text)]
    assert got == expected


REJECTED: list[tuple[str, int, str]] = [
    ("params.lr = '0.01' or params.lr = '0.1'", 19, "invalid clause(s) in filter string: 'or'"),
    ("(params.lr = '0.01')", 0, "expected an identifier"),
    ("metrics.acc > '0.9'", 14, "expected a numeric value for metric"),
    ("metrics.acc LIKE '0.9'", 12, "invalid comparator 'LIKE' for metric"),
    ("metrics.acc IS NULL", 12, "invalid comparator 'IS NULL' for metric"),
    ("params.lr = 0.01", 12, "expected a quoted string value for param"),
    ("params.lr > '0.01'", 10, "invalid comparator '>' for param"),
    ("params.lr IN ('a')", 10, "invalid comparator 'IN' for param"),
    ("tags.t < 'x'", 7, "invalid comparator '<' for tag"),
    ("attributes.status IN ('FINISHED')", 21, "only the 'run_id' attribute supports"),
    ("attributes.status > 'A'", 18, "invalid comparator '>' for attribute 'status'"),
    ("attributes.status IS NULL", 18, "invalid comparator 'IS NULL' for attribute"),
    ("attributes.start_time LIKE '1%'", 22, "invalid comparator 'LIKE' for attribute"),
    ("attributes.start_time > '2024'", 24, "expected a numeric value for numeric attribute"),
    ("attributes.start_time > 1.5", 24, "whole milliseconds"),
    ("attributes.experiment_id = '1'", 0, "invalid attribute key 'experiment_id'"),
    ("foo = 'x'", 0, "invalid attribute key 'foo'"),
    ("metricz.acc > 1", 0, "invalid entity type 'metricz'"),
    ("datasets.size = '1'", 0, "invalid dataset key 'size'"),
    ("datasets.name > 'a'", 14, "invalid comparator '>' for dataset"),
    ("metrics.acc <> 1", 12, "invalid comparator '<>'"),
    ("metrics.acc", 11, "expected a comparator"),
    ("metrics.acc >", 13, "expected a numeric value"),
    ("params.lr = 'open", 12, "unexpected character"),
    ("metrics.acc > 1 and", 19, "expected an identifier"),
    ("metrics.acc > 1 metrics.b > 2", 16, "invalid clause(s)"),
    ("params.lr = 'a'; DROP TABLE x", 15, "unexpected character ';'"),
    ("attributes.run_id IN ('a', 1)", 27, "expected a quoted string in the list"),
    ("attributes.run_id NOT ('a')", 22, "expected IN after NOT"),
]


@pytest.mark.parametrize(("text", "position", "reason"), REJECTED)
def test_rejects_what_mlflow_rejects(text: str, position: int, reason: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    assert reason in info.value.reason
    assert info.value.position == position
    assert f"position {position}" in str(info.value)
    assert isinstance(info.value, InvalidInputError)  # → INVALID_ARGUMENT at the API


@pytest.mark.parametrize(
    ("text", "entity", "key", "ascending"),
    [
        ("metrics.rmse ASC", "metric", "rmse", True),
        ("metrics.rmse", "metric", "rmse", True),
        ("attributes.start_time DESC", "attribute", "start_time", False),
        ("params.`learning rate` desc", "param", "learning rate", False),
        ("tags.team", "tag", "team", True),
        ("run_name", "attribute", "run_name", True),
        ("created DESC", "attribute", "start_time", False),
        ("attributes.experiment_id", "attribute", "experiment_id", True),
    ],
)
def test_order_by(text: str, entity: str, key: str, ascending: bool) -> None:
    o = parse_order_by(text)
    assert (o.entity, o.key, o.ascending) == (entity, key, ascending)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("metrics.rmse UP", "unexpected 'UP'"),
        ("", "empty order_by"),
        ("datasets.name", "cannot be ordered"),
        ("attributes.nope", "invalid attribute key"),
        ("metrics.a, metrics.b", "unexpected ','"),
    ],
)
def test_order_by_rejects(text: str, reason: str) -> None:
    with pytest.raises(FilterError, match=reason):
        parse_order_by(text)


def test_compiled_sql_binds_every_user_value() -> None:
    hostile = "x') OR 1=1 --"
    comparisons = parse_filter(
        f"params.`{hostile}` = '{hostile.replace(chr(39), chr(39) * 2)}' and metrics.m > 3 "
        f"and attributes.run_id IN ('{hostile.replace(chr(39), chr(39) * 2)}') "
        "and attributes.start_time >= 7"
    )
    params: dict[str, object] = {}
    sql = compile_filter(comparisons, params)
    assert hostile not in sql and "1=1" not in sql
    assert hostile in params.values() and [hostile] in params.values()
    assert 3.0 in params.values() and 7 in params.values()
    assert "{f0:String}" in sql and "Array(String)" in sql


def test_datasets_compile_to_an_exists_over_the_runs_inputs() -> None:
    params: dict[str, object] = {}
    sql = compile_filter(parse_filter("datasets.context = 'train'"), params)
    assert sql.startswith("arrayExists(d -> d.4 AND d.3 = ")  # a context needs the tag
    assert list(params.values()) == ["train"]


def test_comparison_is_a_plain_value() -> None:
    (c,) = parse_filter("metrics.a > 1")
    assert c == Comparison("metric", "a", ">", 1.0, 0)
