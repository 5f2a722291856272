"""Browsing commands: `driftline models`, `driftline trace ID`, `driftline logs`, `driftline label`.

Each calls one QueryService RPC and prints its table (or, with --json, one JSON object shaped
like `driftline sql --json`). Exit codes as `sql`: 0 ok, 1 the server refused, 2 bad arguments.

    driftline models [--since 24h]
    driftline trace 4bf92f3577b34da6a3ce929d0e0e4736
    driftline logs [--since 1h] [--severity WARN] [--service S] [--trace-id ID] [--grep TEXT]
    driftline label MODEL INFERENCE_ID VALUE [--class]
    driftline label --file labels.csv|.parquet [MODEL] [--class]     (cli/labels.py)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import grpc
from google.protobuf.message import Message

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli import output
from driftline.cli.client import Connection, QueryClient, add_connection_arguments
from driftline.cli.hints import model_hint, unmatched_labels
from driftline.cli.severity import severity_number
from driftline.cli.sql import code_name, error_details
from driftline.config.load import parse_duration


def _since(value: str | None) -> query_pb2.TimeRange:
    if not value:
        return query_pb2.TimeRange()
    seconds = parse_duration(value)
    return query_pb2.TimeRange(start_unix_nano=time.time_ns() - int(seconds * 1e9))


def _run(args: argparse.Namespace, method: str, build: Callable[[], Message]) -> int:
    try:
        request = build()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with QueryClient(Connection.from_args(args)) as client:
            response = client.call(method, request)
            if isinstance(response, query_pb2.RecordLabelsResponse):
                assert isinstance(request, query_pb2.RecordLabelsRequest)
                print(f"{response.accepted} label(s) accepted")
                _warn_unmatched(client, list(request.labels))
                return 0
    except grpc.RpcError as exc:
        print(f"error: {code_name(exc)}: {error_details(exc)}", file=sys.stderr)
        return 1
    output.print_response(response, as_json=bool(getattr(args, "json", False)))
    return 0


def _warn_unmatched(client: QueryClient, labels: list[query_pb2.Label]) -> None:
    """Say which labels match no stored inference (kept anyway: it may still be arriving)."""
    unmatched = unmatched_labels(client, labels)
    if not unmatched:
        return
    first = unmatched[0]
    hint = model_hint(client, first.model_name)
    print(
        f"warning: {len(unmatched)} of {len(labels)} label(s) matched no stored inference "
        f"(e.g. model {first.model_name!r}, id {first.inference_id!r}); they are kept and "
        f"count once the inference arrives{f'; {hint}' if hint else ''}",
        file=sys.stderr,
    )


def _models(args: argparse.Namespace) -> int:
    return _run(args, "ListModels", lambda: query_pb2.ListModelsRequest(range=_since(args.since)))


def _trace(args: argparse.Namespace) -> int:
    return _run(args, "GetTrace", lambda: query_pb2.GetTraceRequest(trace_id=args.trace_id))


def _logs(args: argparse.Namespace) -> int:
    def build() -> Message:
        return query_pb2.SearchLogsRequest(
            range=_since(args.since),
            min_severity_number=severity_number(args.severity) if args.severity else 0,
            service_name=args.service or "",
            trace_id=args.trace_id or "",
            text=args.grep or "",
            limit=args.limit,
        )

    return _run(args, "SearchLogs", build)


def _label(args: argparse.Namespace) -> int:
    if args.file:
        from driftline.cli.labels import record_file

        return record_file(args)
    if args.model is None or args.inference_id is None or args.value is None:
        print("error: give MODEL INFERENCE_ID VALUE, or --file", file=sys.stderr)
        return 2

    def build() -> Message:
        label = query_pb2.Label(model_name=args.model, inference_id=args.inference_id)
        if args.text:
            label.class_name = args.value
        else:
            try:
                label.number = float(args.value)
            except ValueError:
                raise ValueError(f"{args.value!r} is not a number (use --class)") from None
        return query_pb2.RecordLabelsRequest(labels=[label])

    return _run(args, "RecordLabels", build)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser("models", help="models seen, per version, with traffic and latency")
    models.add_argument("--since", metavar="DURATION", help="only the last DURATION (e.g. 24h)")
    models.add_argument("--json", action="store_true")
    add_connection_arguments(models)
    models.set_defaults(func=_models)

    trace = sub.add_parser("trace", help="every span of one trace")
    trace.add_argument("trace_id", help="32 hex digits")
    trace.add_argument("--json", action="store_true")
    add_connection_arguments(trace)
    trace.set_defaults(func=_trace)

    logs = sub.add_parser("logs", help="search log records, newest first")
    logs.add_argument("--since", metavar="DURATION", help="only the last DURATION (e.g. 1h)")
    logs.add_argument(
        "--severity", help="minimum severity, any case: TRACE DEBUG INFO WARN(ING) ERROR FATAL"
    )
    logs.add_argument("--service", help="service.name, exact")
    logs.add_argument("--trace-id", help="only this trace's records")
    logs.add_argument("--grep", metavar="TEXT", help="case-insensitive text in the body")
    logs.add_argument("--limit", type=int, default=100)
    logs.add_argument("--json", action="store_true")
    add_connection_arguments(logs)
    logs.set_defaults(func=_logs)

    label = sub.add_parser("label", help="record ground truth: one inference, or a file of them")
    label.add_argument("model", nargs="?", help="with --file: the model of rows without one")
    label.add_argument("inference_id", nargs="?")
    label.add_argument(
        "value", nargs="?", help="a number (regression value or numeric class) or a class"
    )
    label.add_argument("--class", dest="text", action="store_true", help="values are class names")
    label.add_argument(
        "--file", metavar="FILE", help=".csv or .parquet: inference_id, label, [model], [time]"
    )
    label.add_argument("--json", action="store_true", help="with --file: print the count as JSON")
    add_connection_arguments(label)
    label.set_defaults(func=_label)
