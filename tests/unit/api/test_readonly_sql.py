"""`run_readonly_sql` on the real embedded engine: types, bound parameters, row and time limits,
and both layers that keep a statement from writing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from api_harness import ROWS
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from driftline.errors import InvalidInputError
from driftline.query.sql import (
    SqlError,
    SqlResult,
    SqlTimeoutError,
    SqlTooLargeError,
    StorageUnavailableError,
    bind_parameters,
    classify,
    confirm_with_engine,
    readonly_settings,
    run_readonly_sql,
)
from driftline.query.statement import Statement, StatementError
from driftline.storage.client import Target, connect


def run(
    engine: Client, sql: str, max_rows: int = 100, timeout_s: float = 5.0, **params: str
) -> SqlResult:
    return run_readonly_sql(engine, sql, params, max_rows, timeout_s)


NOON_250 = dt.datetime(2024, 5, 1, 12, 0, 0, 250_000, dt.UTC)


@pytest.fixture
def fresh_client(engine_target: Target) -> Iterator[Client]:
    """A client of its own, for statements that may leave a session changed."""
    client = connect(engine_target)
    yield client
    client.close()


def test_columns_types_and_values_come_back_as_stored(engine: Client, api_db: str) -> None:
    result = run(engine, f"SELECT * FROM {api_db}.typed ORDER BY id")
    assert [(c.name, c.type) for c in result.columns] == [
        ("id", "UInt64"),
        ("score", "Float64"),
        ("name", "String"),
        ("attrs", "Map(String, String)"),
        ("tags", "Array(String)"),
        ("ts", "DateTime64(3, 'UTC')"),
        ("note", "Nullable(String)"),
        ("delta", "Int32"),
        ("ok", "Bool"),
    ]
    assert len(result.rows) == ROWS and not result.truncated
    first = result.rows[0]
    assert first[:5] == (0, 0.0, "model-0", {"team": "ml", "n": "0"}, ["a", "0"])
    assert first[5] == NOON_250
    assert first[6] is None and result.rows[1][6] == "odd"
    assert (first[7], first[8]) == (0, True)
    assert result.rows_read == ROWS
    assert result.elapsed_s > 0


def test_an_empty_result_still_names_its_columns(engine: Client, api_db: str) -> None:
    result = run(engine, f"SELECT id, name FROM {api_db}.typed WHERE id > 1000")
    assert result.rows == []
    assert [(c.name, c.type) for c in result.columns] == [("id", "UInt64"), ("name", "String")]


def test_parameters_are_bound_by_the_engine(engine: Client, api_db: str) -> None:
    sql = f"SELECT id FROM {api_db}.typed WHERE name = {{name:String}} AND id >= {{min:UInt64}}"
    assert run(engine, sql, name="model-3", min="1").rows == [(3,)]
    assert run(engine, sql, name="model-3", min="4").rows == []


@pytest.mark.parametrize(
    "value",
    ["model-1' OR 1=1 --", "model-1'; DROP TABLE x; --", "x\\' OR '1'='1", "{name:String}"],
)
def test_an_injection_attempt_stays_a_value(engine: Client, api_db: str, value: str) -> None:
    sql = f"SELECT count() FROM {api_db}.typed WHERE name = {{name:String}}"
    assert run(engine, sql, name=value).rows == [(0,)]
    assert run(engine, "SELECT {v:String}", v=value).rows == [(value,)]


@pytest.mark.parametrize(
    ("placeholder", "text", "expected"),
    [
        ("String", "back\\slash\ttab\nline 'quote' \\N", "back\\slash\ttab\nline 'quote' \\N"),
        ("Nullable(String)", "C:\\temp", "C:\\temp"),
        ("Array(String)", "['a', 'b\\'c']", ["a", "b'c"]),
        ("Map(String, UInt64)", "{'a': 1}", {"a": 1}),
        ("Nullable(UInt64)", "\\N", None),
        ("DateTime64(3, 'UTC')", "2024-05-01 12:00:00.250", NOON_250),
    ],
)  # fmt: skip
def test_a_value_is_its_placeholder_types_text_form(
    engine: Client, placeholder: str, text: str, expected: object
) -> None:
    assert run(engine, f"SELECT {{v:{placeholder}}}", v=text).rows == [(expected,)]


def test_parameters_must_be_named_placeholders() -> None:
    with pytest.raises(SqlError, match="not used"):
        bind_parameters("SELECT %(x)s", {"x": "1"})
    with pytest.raises(SqlError, match="parameter name"):
        bind_parameters("SELECT {x-y:String}", {"x-y": "1"})


def test_a_value_that_does_not_parse_is_invalid(engine: Client) -> None:
    with pytest.raises(SqlError, match="cannot be parsed as UInt64") as caught:
        run(engine, "SELECT {n:UInt64}", n="abc")
    assert caught.value.code == 457


@pytest.mark.parametrize(("max_rows", "truncated"), [(1, True), (ROWS - 1, True), (ROWS, False)])
def test_max_rows_cuts_and_says_so(
    engine: Client, api_db: str, max_rows: int, truncated: bool
) -> None:
    result = run(engine, f"SELECT id FROM {api_db}.typed ORDER BY id", max_rows=max_rows)
    assert result.rows == [(i,) for i in range(max_rows)]
    assert result.truncated is truncated


def test_a_huge_result_stops_early(engine: Client) -> None:
    result = run(engine, "SELECT number FROM system.numbers", max_rows=3)
    assert result.rows == [(0,), (1,), (2,)] and result.truncated


def test_a_statement_over_its_time_limit_is_stopped(engine: Client) -> None:
    with pytest.raises(SqlTimeoutError, match="TIMEOUT_EXCEEDED"):
        run(engine, "SELECT count() FROM numbers_mt(1e13)", timeout_s=0.3)


def test_readonly_is_the_last_setting() -> None:
    settings = readonly_settings(10, 2.5)
    assert list(settings)[-1] == "readonly" and settings["readonly"] == 1
    assert settings["max_result_rows"] == 11 and settings["result_overflow_mode"] == "break"
    assert settings["max_execution_time"] == 2.5


WRITES = [
    "INSERT INTO {db}.writable VALUES (1)",
    "CREATE TABLE {db}.created (x UInt8) ENGINE = Memory",
    "DROP TABLE {db}.writable",
    "ALTER TABLE {db}.writable DELETE WHERE 1",
    "SET max_threads = 1",
    "WITH 1 AS x INSERT INTO {db}.writable SELECT x",
    "SELECT 1 INTO OUTFILE 'written.txt'",
    "SELECT 1; INSERT INTO {db}.writable VALUES (2)",
]


@pytest.mark.parametrize("statement", WRITES)
def test_writes_are_refused_before_the_engine(engine: Client, api_db: str, statement: str) -> None:
    with pytest.raises(StatementError):
        run(engine, statement.format(db=api_db))
    assert _unchanged(engine, api_db)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {db}.writable SELECT 1",
        "CREATE TABLE {db}.created (x UInt8) ENGINE = Memory",
        "DROP TABLE {db}.writable",
        "ALTER TABLE {db}.writable DELETE WHERE 1",
        "SET max_threads = 1",
        "TRUNCATE TABLE {db}.writable",
    ],
)
def test_the_engine_refuses_writes_under_readonly_settings(
    fresh_client: Client, engine: Client, api_db: str, statement: str
) -> None:
    """The second layer alone: the statement check is bypassed, readonly=1 still says no."""
    with pytest.raises(DatabaseError) as caught:
        fresh_client.query(statement.format(db=api_db), settings=readonly_settings(10, 5.0))
    assert caught.value.code == 164  # READONLY
    assert _unchanged(engine, api_db)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1 SETTINGS max_result_rows = 1000000",
        "SELECT 1 SETTINGS max_memory_usage = 0",
    ],
)
def test_reads_cannot_lift_limits(engine: Client, statement: str) -> None:
    with pytest.raises(SqlError, match="readonly mode") as caught:
        run(engine, statement)
    assert caught.value.code == 164


def test_the_engine_parser_has_the_last_word_on_one_statement(engine: Client) -> None:
    """Should the lexer ever let two statements through, ClickHouse's parser does not."""
    settings = readonly_settings(10, 5.0)
    with pytest.raises(SqlError, match="Multi-statements are not allowed"):
        confirm_with_engine(engine, Statement("SELECT 1; SELECT 2", "SELECT"), settings)
    with pytest.raises(StatementError, match="INTO OUTFILE"):
        confirm_with_engine(engine, Statement("SELECT 1 INTO OUTFILE 'x'", "SELECT"), settings)


def test_syntax_and_unknown_tables_are_invalid_with_the_server_message(engine: Client) -> None:
    with pytest.raises(SqlError, match="Syntax error") as syntax:
        run(engine, "SELECT FROM WHERE")
    assert syntax.value.code == 62 and "formatQuerySingleLine" not in str(syntax.value)
    with pytest.raises(SqlError, match=r"UNKNOWN_TABLE|does not exist") as unknown:
        run(engine, "SELECT * FROM default.no_such_table")
    assert unknown.value.code in (60, 81)
    assert isinstance(unknown.value, InvalidInputError)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DatabaseError("Code: 159. Timeout exceeded", code=159), SqlTimeoutError),
        (DatabaseError("Code: 241. Memory limit", code=241), SqlTooLargeError),
        (DatabaseError("Code: 62. Syntax error", code=62), SqlError),
        (DatabaseError("Code: 210. Connection refused", code=210), StorageUnavailableError),
        (OperationalError("Error HTTPConnectionPool: Connection refused"), StorageUnavailableError),
        (ConnectionRefusedError(111, "Connection refused"), StorageUnavailableError),
    ],
)
def test_engine_errors_map_to_our_tree(error: Exception, expected: type[Exception]) -> None:
    assert type(classify(error)) is expected


def _unchanged(engine: Client, api_db: str) -> bool:
    tables = engine.query(f"SHOW TABLES FROM {api_db}").result_rows
    rows = engine.query(f"SELECT count() FROM {api_db}.writable").result_rows
    return sorted(tables) == [("typed",), ("writable",)] and rows == [(0,)]
