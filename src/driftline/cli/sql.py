"""`driftline sql "SELECT ..."`: read-only SQL through the query API.

    driftline sql "SELECT count() FROM otel_traces WHERE ServiceName = {svc:String}" \\
        --param svc=checkout [--max-rows N] [--json] [--server HOST:PORT] [--token T] [--timeout S]

Prints an aligned table (and a one-line summary on stderr), or with --json one JSON object
(see output.py). Exit codes: 0 ok, 1 the server refused or failed (`error: CODE: message` on
stderr), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys

import grpc

from driftline.cli import output
from driftline.cli.client import Connection, QueryClient, add_connection_arguments

EXAMPLES = """\
examples:
  driftline sql "SELECT ServiceName, count() FROM otel_traces GROUP BY 1"
  driftline sql "SELECT * FROM otel_logs WHERE SeverityText = {sev:String}" --param sev=ERROR
  driftline sql "SHOW TABLES" --json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sql",
        help="run read-only SQL through the query API",
        description="Run one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN,\n"
        "EXISTS) on the server's ClickHouse, through the query API.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", help="the statement; bind values with {name:Type} placeholders")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for {NAME:Type}, bound by the server (repeatable)",
    )
    parser.add_argument(
        "--max-rows", type=int, default=0, metavar="N", help="at most N rows (default: server's)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        parameters = parse_params(args.param)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.max_rows < 0:
        print("error: --max-rows must be >= 0", file=sys.stderr)
        return 2
    if args.timeout is not None and not args.timeout > 0:
        print("error: --timeout must be > 0", file=sys.stderr)
        return 2
    try:
        with QueryClient(Connection.from_args(args)) as client:
            response = client.sql(args.query, parameters, max_rows=args.max_rows)
    except grpc.RpcError as exc:
        print(f"error: {code_name(exc)}: {error_details(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an unreadable --tls-ca file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output.print_response(response, as_json=bool(getattr(args, "json", False)))
    return 0


def parse_params(items: list[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` → `{"a": "1", "b": "x=y"}`; the first `=` splits."""
    parameters: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        parameters[name] = value
    return parameters


def code_name(exc: grpc.RpcError) -> str:
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    return str(code.name) if code is not None else "UNKNOWN"


def error_details(exc: grpc.RpcError) -> str:
    details = exc.details() if callable(getattr(exc, "details", None)) else None
    return str(details or exc)
