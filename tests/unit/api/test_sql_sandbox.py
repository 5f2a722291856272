"""The SQL sandbox (#12 finding 4, #16 item 7): read-only SQL cannot reach files, the network,
processes or the server's own facts, whatever form the statement takes.

Every escape attempt runs on the real embedded engine through `run_readonly_sql` (the query
API's path), and the same statement is first shown to work on the bare engine where that is
safe to do, so a refusal here is the sandbox's and not a typo's.
"""

from __future__ import annotations

import argparse

import grpc
import pytest
from api_harness import QueryServer
from clickhouse_connect.driver.client import Client

from driftline.cli import sql as cli_sql
from driftline.query.sandbox import SandboxError, check_tree, is_allowed_function, parse_ast
from driftline.query.sql import SqlResult, run_readonly_sql
from driftline.query.statement import StatementError


def run(engine: Client, sql: str) -> SqlResult:
    return run_readonly_sql(engine, sql, {}, 100, 5.0)


def test_the_engine_itself_reads_files_in_readonly_mode(engine: Client) -> None:
    """The finding: readonly=1 does not stop the scalar file(); without the sandbox it reads."""
    rows = engine.query("SELECT file('/etc/hostname')", settings={"readonly": 1}).result_rows
    assert rows[0][0] == open("/etc/hostname").read()  # noqa: SIM115 (the test's own read)


FILES = [
    "SELECT file('/etc/passwd')",
    "SELECT file('/proc/self/environ')",
    "select FiLe('/etc/passwd')",
    "SELECT FILE('/etc/passwd') AS x",
    "SELECT /* file */ file/* inline */('/etc/passwd') -- trailing",
    "SELECT `file`('/etc/passwd')",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM FILE('/etc/passwd', 'LineAsString') AS t",
    "WITH x -> file(x) AS f SELECT f('/etc/passwd')",
    "WITH x -> concat('', x) AS FILE SELECT file('/etc/passwd')",
    "WITH (SELECT file('/etc/passwd')) AS secret SELECT secret",
    "WITH t AS (SELECT * FROM file('/etc/passwd', 'LineAsString')) SELECT * FROM t",
    "SELECT (SELECT file('/etc/passwd'))",
    "SELECT * FROM (SELECT file('/etc/passwd'))",
    "SELECT * FROM numbers(1) WHERE file('/etc/passwd') != ''",
    "SELECT number FROM numbers(1) WHERE toString(number) IN "
    "(SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    "SELECT arrayMap(x -> file(x), ['/etc/passwd'])",
    "SELECT * FROM view(SELECT file('/etc/passwd'))",
    "SELECT 1 UNION ALL SELECT length(file('/etc/passwd'))",
    "SELECT filesystemAvailable()",
    "EXPLAIN SYNTAX SELECT file('/etc/passwd')",
    "EXPLAIN PIPELINE SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "DESCRIBE file('/etc/passwd', 'LineAsString')",
    "DESC TABLE (SELECT file('/etc/passwd'))",
]
NETWORK_AND_PROCESSES = [
    "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
    "DESCRIBE url('http://127.0.0.1:9/x')",
    "EXPLAIN PLAN SELECT * FROM s3('http://127.0.0.1:9/b/k', 'CSV')",
    "SELECT * FROM hdfs('hdfs://127.0.0.1:9/x', 'TSV')",
    "SELECT * FROM remote('127.0.0.1:9', system.one)",
    "SELECT * FROM remoteSecure('127.0.0.1:9', default.t)",
    "SELECT * FROM cluster('default', system.one)",
    "SELECT * FROM executable('id', 'TSV', 'x String')",
    "SELECT * FROM python('print(1)')",
    "SELECT * FROM input('x String')",
    "SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('127.0.0.1:9', 'db', 't', 'u', 'p')",
    "SELECT * FROM merge('system', '.*')",
    "SELECT * FROM dictionary('d')",
    "SELECT dictGet('d', 'x', toUInt64(1))",
    "SELECT dictGetOrDefault('d', 'x', toUInt64(1), '')",
    "SELECT joinGet('t', 'x', 1)",
    "SELECT aiGenerate('hello')",
    "SELECT sleepEachRow(3) FROM numbers(100)",
]
SERVER_FACTS = [
    "SELECT * FROM system.processes",
    "SELECT query FROM system.processes",
    "SELECT * FROM system.errors",
    "SELECT * FROM system.settings",
    "SELECT * FROM system.users",
    "SELECT data_paths FROM system.tables",
    "SELECT * FROM system.disks",
    "SELECT * FROM system.server_settings",
    "SELECT * FROM system.query_log",
    "SELECT 1 IN system.processes",
    "SELECT * FROM system.one JOIN system.processes ON 1",
    "SELECT * FROM (SELECT * FROM system.errors) AS e",
    "WITH p AS (SELECT * FROM system.processes) SELECT * FROM p",
    "SELECT * FROM `system`.`processes`",
    "SHOW PROCESSLIST",
    "SHOW SETTINGS LIKE '%path%'",
    "SHOW USERS",
    "SHOW GRANTS",
    "SHOW MERGES",
    "SHOW CLUSTERS",
    "SHOW DICTIONARIES",
    "SHOW CREATE TABLE system.processes",
    "SHOW COLUMNS FROM system.users",
    "EXISTS TABLE system.users",
    "DESCRIBE TABLE system.processes",
    "SELECT getServerSetting('path')",
    "SELECT getSetting('max_memory_usage')",
    "SELECT hostName()",
    "SELECT FQDN()",
    "SELECT getOSKernelVersion()",
    "SELECT serverUUID()",
    "SELECT getMacro('replica')",
    "SELECT addressToLine(toUInt64(1))",
    "SELECT addressToSymbol(toUInt64(1))",
    "SELECT demangle('x')",
    "SELECT __getScalar('x')",
]


@pytest.mark.parametrize("statement", FILES + NETWORK_AND_PROCESSES + SERVER_FACTS)
def test_escape_attempts_are_refused(engine: Client, statement: str) -> None:
    with pytest.raises((SandboxError, StatementError)):
        run(engine, statement)


ALLOWED = [
    ("SELECT sum(number) FROM numbers(10)", [(45,)]),
    ("SELECT sumIf(number, number > 4), countDistinct(number % 3) FROM numbers(10)", [(35, 3)]),
    ("SELECT finalizeAggregation(quantilesStateIf(0.5)(number, 1)) FROM numbers(5)", [([2.0],)]),
    ("SELECT arrayMap(x -> x * 2, [1, 2])", [([2, 4],)]),
    ("WITH t AS (SELECT number AS n FROM numbers(3)) SELECT max(n) FROM t", [(2,)]),
    ("SELECT count() FROM system.one", [(1,)]),
    ("SELECT count() > 100 FROM system.functions", [(True,)]),
    ("SELECT * FROM values('x UInt8', 1, 2)", [(1,), (2,)]),
    ("SELECT count() FROM generate_series(1, 4)", [(4,)]),
    ("SELECT CAST(1 AS String), INTERVAL 1 DAY + toDate('2024-01-01')", None),
    ("SELECT toString(number) FROM numbers(2) WHERE number IN (SELECT 1)", [("1",)]),
    ("SELECT version() != ''", [(True,)]),
]


@pytest.mark.parametrize(("statement", "expected"), ALLOWED)
def test_ordinary_reads_still_run(engine: Client, statement: str, expected: object) -> None:
    result = run(engine, statement)
    if expected is not None:
        assert [tuple(row) for row in result.rows] == expected


def test_stored_tables_show_and_describe_still_work(engine: Client, api_db: str) -> None:
    assert (api_db,) in [tuple(r) for r in run(engine, "SHOW DATABASES").rows]
    assert ("typed",) in [tuple(r) for r in run(engine, f"SHOW TABLES FROM {api_db}").rows]
    described = run(engine, f"DESCRIBE TABLE {api_db}.typed").rows
    assert described[0][:2] == ("id", "UInt64")
    assert run(engine, f"EXISTS TABLE {api_db}.typed").rows == [(1,)]
    assert run(engine, f"SELECT count() FROM {api_db}.typed WHERE name LIKE 'model-%'").rows
    # filtered: the suite's shared engine holds many databases, more rows than a page
    tables = run(
        engine,
        f"SELECT table_name FROM INFORMATION_SCHEMA.TABLES WHERE table_schema = '{api_db}'",
    ).rows
    assert ("typed",) in [tuple(r) for r in tables]


def test_parameters_are_checked_as_bound(engine: Client, api_db: str) -> None:
    sql = f"SELECT id FROM {api_db}.typed WHERE name = {{n:String}}"
    assert run_readonly_sql(engine, sql, {"n": "model-2"}, 10, 5.0).rows == [(2,)]
    # A parameter is a value, never SQL: a function name inside it stays a string.
    assert run_readonly_sql(engine, sql, {"n": "file('/etc/passwd')"}, 10, 5.0).rows == []


def test_the_function_list_is_an_allow_list() -> None:
    for name in ("file", "url", "sleep", "hostname", "getserversetting", "dictget", "_cast"):
        assert not is_allowed_function(name), name
    for name in ("sum", "sumif", "quantilesstateif", "avgorNull".lower(), "tostring", "if"):
        assert is_allowed_function(name), name
    assert not is_allowed_function("fileif")  # a combinator makes no aggregate of a scalar
    assert not is_allowed_function("brandnewfunction")  # unknown = refused


def test_every_listed_function_exists_in_the_engine(engine: Client) -> None:
    """The list is generated from this engine; a stale entry (a typo, a removed function) fails."""
    from importlib import resources

    text = resources.files("driftline.query").joinpath("sandbox_functions.txt").read_text()
    listed = {
        line.split()[0]
        for line in text.splitlines()
        if line.strip() and not line.startswith(("#", "+"))
    }
    known = {row[0] for row in engine.query("SELECT name FROM system.functions").result_rows}
    assert listed and listed <= known, sorted(listed - known)[:10]


def test_a_tree_is_checked_node_by_node() -> None:
    """The walk itself, on a hand-written tree (what EXPLAIN AST prints)."""
    tree = parse_ast(
        [
            "SelectWithUnionQuery (children 1)",
            " ExpressionList (children 1)",
            "  SelectQuery (children 2)",
            "   ExpressionList (children 1)",
            "    Asterisk",
            "   TablesInSelectQuery (children 1)",
            "    TablesInSelectQueryElement (children 1)",
            "     TableExpression (children 1)",
            "      Function numbers (alias n) (children 1)",
            "       ExpressionList (children 1)",
            "        Literal UInt64_3",
        ]
    )
    check_tree(tree, "SELECT * FROM numbers(3) AS n")
    tree.children[0].children[0].children[1].children[0].children[0].children[0].detail = "url"
    with pytest.raises(SandboxError, match=r"table function url\(\)"):
        check_tree(tree, "SELECT * FROM url(3) AS n")


def test_driftline_sql_cannot_read_the_host(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    query_server: QueryServer,
) -> None:
    """Finding 4 as a user meets it: `driftline sql "SELECT file('/etc/passwd')"`."""
    monkeypatch.setenv("DRIFTLINE_QUERY_ENDPOINT", query_server.endpoint)
    monkeypatch.delenv("DRIFTLINE_QUERY_TOKEN", raising=False)
    for statement in ("SELECT file('/etc/passwd')", "SELECT file('/proc/self/environ')"):
        parser = argparse.ArgumentParser(prog="driftline")
        cli_sql.add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["sql", statement])
        code = args.func(args)
        captured = capsys.readouterr()
        assert code != 0
        assert "root:" not in captured.out and "PATH=" not in captured.out
        assert "INVALID_ARGUMENT" in captured.err and "file()" in captured.err
        assert len(captured.err.strip().splitlines()) == 1  # one line, no traceback


def test_the_query_api_answers_invalid_argument(query_server: QueryServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        query_server.sql("SELECT * FROM system.processes")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "system.processes" in (caught.value.details() or "")
