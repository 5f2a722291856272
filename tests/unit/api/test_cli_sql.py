"""`driftline sql`: `run()` end to end against a server in this process, and the output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import pytest
from api_harness import ROWS, Pki, QueryServer

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli import output, sql
from driftline.cli.client import DEFAULT_ENDPOINT, Connection

TOKEN = "cli-token"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="driftline")
    sql.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["sql", *argv])


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parse(*argv)
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_QUERY_ENDPOINT", raising=False)
    monkeypatch.delenv("DRIFTLINE_QUERY_TOKEN", raising=False)


def test_table_output(
    capsys: pytest.CaptureFixture[str], query_server: QueryServer, api_db: str
) -> None:
    code, out, err = run_cli(
        capsys,
        f"SELECT id, name, note, attrs FROM {api_db}.typed ORDER BY id",
        "--server",
        query_server.endpoint,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["id", "name", "note", "attrs"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["0", "model-0", "NULL", '{"team":"ml","n":"0"}']
    assert lines[3].split()[:3] == ["1", "model-1", "odd"]
    assert len(lines) == 2 + ROWS
    assert len({line.index("model") for line in lines[2:]}) == 1  # aligned
    assert f"{ROWS} rows in" in err


def test_json_output_with_parameters_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    query_server: QueryServer,
    api_db: str,
) -> None:
    monkeypatch.setenv("DRIFTLINE_QUERY_ENDPOINT", query_server.endpoint)
    code, out, err = run_cli(
        capsys,
        f"SELECT id, score, tags, ts, ok FROM {api_db}.typed WHERE id >= {{min:UInt64}} "
        "ORDER BY id",
        "--param",
        "min=3",
        "--json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["columns"][0] == {"name": "id", "type": "UInt64"}
    assert document["rows"] == [
        [3, 0.75, ["a", "3"], "2024-05-01T12:00:03.250000+00:00", False],
        [4, 1.0, ["a", "4"], "2024-05-01T12:00:04.250000+00:00", True],
    ]
    assert document["truncated"] is False


def test_max_rows_marks_truncation(
    capsys: pytest.CaptureFixture[str], query_server: QueryServer
) -> None:
    argv = ["SELECT number FROM numbers(10)", "--server", query_server.endpoint, "--max-rows", "3"]
    code, out, _ = run_cli(capsys, *argv, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["rows"] == [[0], [1], [2]] and document["truncated"] is True
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and "truncated at 3 rows" in err


def test_server_errors_are_printed_with_their_code(
    capsys: pytest.CaptureFixture[str], query_server: QueryServer
) -> None:
    code, out, err = run_cli(capsys, "DROP TABLE x", "--server", query_server.endpoint)
    assert (code, out) == (1, "")
    assert err.startswith("error: INVALID_ARGUMENT: DROP is not a read-only statement")


def test_the_token_comes_from_the_flag_or_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    start_server: Callable[..., QueryServer],
) -> None:
    server = start_server(auth_token=TOKEN)
    code, _, err = run_cli(capsys, "SELECT 1", "--server", server.endpoint)
    assert code == 1 and err.startswith("error: UNAUTHENTICATED: ")
    code, out, _ = run_cli(capsys, "SELECT 1", "--server", server.endpoint, "--token", TOKEN)
    assert code == 0 and out.splitlines()[-1].strip() == "1"
    monkeypatch.setenv("DRIFTLINE_QUERY_TOKEN", TOKEN)
    code, out, _ = run_cli(capsys, "SELECT 1", "--server", server.endpoint, "--json")
    assert code == 0 and json.loads(out)["rows"] == [[1]]


def test_tls_with_a_ca_file(
    capsys: pytest.CaptureFixture[str], start_server: Callable[..., QueryServer], pki: Pki
) -> None:
    server = start_server(tls=pki.server_tls())
    argv = ["SELECT 1", "--server", server.endpoint, "--tls-ca", str(pki.ca), "--json"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert json.loads(out)["rows"] == [[1]]


def test_a_timeout_reaches_the_server(
    capsys: pytest.CaptureFixture[str], query_server: QueryServer
) -> None:
    argv = ["SELECT count() FROM numbers_mt(1e13)", "--server", query_server.endpoint]
    code, _, err = run_cli(capsys, *argv, "--timeout", "0.5")
    assert code == 1 and err.startswith("error: DEADLINE_EXCEEDED: ")


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "SELECT 1", "--param", "novalue")
    assert code == 2 and "NAME=VALUE" in err
    code, _, err = run_cli(capsys, "SELECT 1", "--timeout", "0")
    assert code == 2 and "--timeout must be > 0" in err
    assert sql.parse_params(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


def test_connection_defaults_and_precedence() -> None:
    args = parse("SELECT 1")
    assert Connection.from_args(args, env={}).endpoint == DEFAULT_ENDPOINT
    env = {"DRIFTLINE_QUERY_ENDPOINT": "h:1", "DRIFTLINE_QUERY_TOKEN": "t"}
    connection = Connection.from_args(args, env=env)
    assert (connection.endpoint, connection.metadata) == ("h:1", (("authorization", "Bearer t"),))
    flagged = Connection.from_args(parse("SELECT 1", "--server", "x:2", "--token", ""), env=env)
    assert (flagged.endpoint, flagged.metadata) == ("x:2", ())
    timed = Connection.from_args(parse("SELECT 1", "--timeout", "2"), env={})
    assert timed.deadline_s is not None and timed.deadline_s > 2


def test_table_rendering_of_kinds() -> None:
    response = query_pb2.SqlResponse(
        columns=[query_pb2.Column(name="n", type="Int64"), query_pb2.Column(name="s", type="S")],
        rows=[
            query_pb2.Row(
                values=[query_pb2.Value(int64_value=-5), query_pb2.Value(string_value="a\nb")]
            ),
            query_pb2.Row(
                values=[query_pb2.Value(null_value=True), query_pb2.Value(string_value="x" * 99)]
            ),
        ],
    )
    lines = output.table(response).splitlines()
    assert lines[2] == "  -5  a\\nb"
    assert lines[3].startswith("NULL  xxx") and lines[3].endswith("…")
    assert len(lines[3]) == len("NULL  ") + output.MAX_CELL_WIDTH
    assert output.table(query_pb2.SqlResponse()) == ""
