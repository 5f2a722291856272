"""`driftline runs list|show|compare`: tracked experiment runs through RunService.

    driftline runs list [--experiment E]… [--filter "metrics.acc > 0.9 and params.lr = '0.01'"]
                        [--order-by "metrics.acc DESC"]… [--max-results N] [--json | -q]
    driftline runs show RUN_ID [--json]          (any unique prefix of an id, as git takes)
    driftline runs compare RUN_ID RUN_ID… [--json] [--html FILE]
    driftline runs logs RUN_ID [--limit N] [--severity WARN] [--json]

Readable tables by default; `--json` prints the response message as JSON (proto field names).
`compare --html` also reads every metric's history and writes a page with metric-over-step
plots. A bad filter prints the server's reason and position; exit 1 for an RPC error.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import grpc

from driftline.api._gen.driftline.v1 import runs_pb2, runs_pb2_grpc
from driftline.cli.client import Connection, add_connection_arguments
from driftline.cli.output import print_message
from driftline.cli.severity import severity_number
from driftline.cli.sql import code_name, error_details
from driftline.report.runs_html import RunView, render_runs_report

MAX_METRIC_COLUMNS = 6


class RunClient:
    """A blocking client of `driftline.v1.RunService`, with the connection's token/deadline."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._channel = connection.channel()
        self._stub = runs_pb2_grpc.RunServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def __enter__(self) -> RunClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._channel.close()

    def call(self, method: str, request: Any) -> Any:
        rpc = getattr(self._stub, method)
        return rpc(request, timeout=self._connection.deadline_s, metadata=self._connection.metadata)


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ns else "-"


def _duration(run: runs_pb2.Run) -> str:
    end = run.end_time_unix_nano or run.last_seen_unix_nano
    if not end or not run.start_time_unix_nano:
        return "-"
    return duration_text(max(0, end - run.start_time_unix_nano) / 1e9)


def duration_text(seconds: float) -> str:
    """`830ms`, `4.2s`, `3m07s`, `2h05m`: a short run is not `0.0s`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


FULL_RUN_ID_LENGTH = 32  # uuid4().hex, as the SDK and MLflow make them
_PREFIX = re.compile(r"[0-9A-Za-z_-]+")


class RunIdError(ValueError):
    """A run id prefix that matches no run, or more than one."""


def resolve_run_id(client: RunClient, text: str) -> str:
    """A full run id for `text`: itself if a run has it, else the one run whose id starts
    with it (as git resolves abbreviated commits); RunIdError when none or several do."""
    if not _PREFIX.fullmatch(text):
        raise RunIdError(f"{text!r} is not a run id (letters, digits, - and _)")
    if len(text) >= FULL_RUN_ID_LENGTH:
        return text  # a whole id: the server says whether it exists
    response: runs_pb2.ListRunsResponse = client.call(
        "ListRuns",
        runs_pb2.ListRunsRequest(filter=f"attributes.run_id LIKE '{text}%'", max_results=10),
    )
    ids = sorted({r.run_id for r in response.runs})
    if text in ids or len(ids) == 1:
        return text if text in ids else ids[0]
    if not ids:
        raise RunIdError(f"NOT_FOUND: no run id starts with {text!r}")
    shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
    raise RunIdError(f"run id prefix {text!r} is ambiguous: {shown}; give more characters")


def _num(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return f"{x:.6g}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    text = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _print_list(response: runs_pb2.ListRunsResponse) -> None:
    keys: list[str] = []
    for run in response.runs:
        keys += [k for k in sorted(run.metrics) if k not in keys]
    shown = [k for k in keys if not k.startswith("system/")][:MAX_METRIC_COLUMNS]
    rows = [
        [r.run_id, r.experiment, r.run_name, r.status, _when(r.start_time_unix_nano),
         _duration(r), *(_num(r.metrics[k].latest) if k in r.metrics else "-" for k in shown)]
        for r in response.runs
    ]  # fmt: skip
    headers = ["run_id", "experiment", "name", "status", "started", "duration", *shown]
    print(_table(headers, rows))
    n = len(response.runs)
    more = (
        f"; next page: --page-token {response.next_page_token}" if response.next_page_token else ""
    )
    print(f"{n} run{'' if n == 1 else 's'}{more}", file=sys.stderr)


def _print_ids(response: runs_pb2.ListRunsResponse) -> None:
    """`runs list -q`: the ids alone, one a line, for `RUN_ID=$(driftline runs list -q …)`."""
    for run in response.runs:
        print(run.run_id)


def _print_run(run: runs_pb2.Run) -> None:
    print(f"run {run.run_id}  {run.status}")
    print(f"  experiment  {run.experiment}")
    print(f"  name        {run.run_name}")
    print(f"  user        {run.user_id or '-'}")
    print(f"  started     {_when(run.start_time_unix_nano)}")
    print(f"  ended       {_when(run.end_time_unix_nano)}  ({_duration(run)})")
    print(f"  last seen   {_when(run.last_seen_unix_nano)}")
    for title, mapping in (("params", run.params), ("tags", run.tags)):
        print(f"\n{title}:")
        for k in sorted(mapping):
            print(f"  {k} = {mapping[k]}")
    print("\nattributes:")
    for k in sorted(run.attributes):
        print(f"  {k} = {run.attributes[k]}")
    if run.metrics:
        print()
        print(_table(
            ["metric", "latest", "step", "min", "max", "points"],
            [[k, _num(m.latest), str(m.latest_step), _num(m.min), _num(m.max), str(m.points)]
             for k, m in sorted(run.metrics.items())],
        ))  # fmt: skip
    if run.artifacts:
        print("\nartifacts:")
        for a in run.artifacts:
            size = f"{a.size} B" if a.size >= 0 else "size unknown"
            print(f"  {a.path}  {a.uri}  {size}  sha256:{a.sha256 or '-'}")


def _print_compare(response: runs_pb2.CompareRunsResponse) -> None:
    runs = list(response.runs)
    headers = ["", *[f"{r.run_name} ({r.run_id[:8]})" for r in runs]]
    print(_table(headers, [["status", *[r.status for r in runs]]]))
    params = sorted({k for r in runs for k in r.params})
    if params:
        print("\nparams (* = differs):")
        rows = []
        for k in params:
            values = [r.params.get(k, "-") for r in runs]
            mark = "*" if len(set(values)) > 1 else " "
            rows.append([f"{mark} {k}", *values])
        print(_table(["param", *headers[1:]], rows))
    keys = sorted({k for r in runs for k in r.metrics})
    if keys:
        print("\nmetrics (latest [min … max], points):")
        rows = []
        for k in keys:
            cells = []
            for r in runs:
                m = r.metrics.get(k)
                cells.append(
                    f"{_num(m.latest)} [{_num(m.min)} … {_num(m.max)}] n={m.points}" if m else "-"
                )
            rows.append([k, *cells])
        print(_table(["metric", *headers[1:]], rows))


def _print_logs(response: runs_pb2.GetRunLogsResponse) -> None:
    for r in response.records:
        when = datetime.fromtimestamp(r.timestamp_unix_nano / 1e9, UTC)
        stamp = when.strftime("%H:%M:%S.%f")[:-3]
        print(f"{stamp} {r.severity_text or '-':<7} {r.logger or '-'}: {r.body}")
    if response.truncated:
        print(f"(first {len(response.records)} records; raise --limit for more)", file=sys.stderr)


def _html(client: RunClient, response: runs_pb2.CompareRunsResponse, path: str) -> None:
    views = []
    for run in response.runs:
        history: runs_pb2.GetRunMetricsResponse = client.call(
            "GetRunMetrics", runs_pb2.GetRunMetricsRequest(run_id=run.run_id)
        )
        views.append(
            RunView(
                run_id=run.run_id,
                name=run.run_name,
                experiment=run.experiment,
                status=run.status,
                started=_when(run.start_time_unix_nano),
                duration=_duration(run),
                params=dict(run.params),
                latest={k: m.latest for k, m in run.metrics.items()},
                series={h.key: (list(h.steps), list(h.values)) for h in history.metrics},
            )
        )
    with open(path, "w", encoding="utf-8") as out:
        out.write(render_runs_report(views, generated_at=_when(_now_ns())))
    keys = {k for v in views for k in v.series}
    print(f"wrote {path}: {len(views)} runs, {len(keys)} metrics")


def _now_ns() -> int:
    import time

    return time.time_ns()


def _run(args: argparse.Namespace) -> int:
    try:
        with RunClient(Connection.from_args(args)) as client:
            response: Any
            if args.what == "list":
                response = client.call(
                    "ListRuns",
                    runs_pb2.ListRunsRequest(
                        experiments=args.experiment or [],
                        filter=args.filter or "",
                        order_by=args.order_by or [],
                        max_results=args.max_results or 0,
                        page_token=args.page_token or "",
                    ),
                )
                printer: Any = _print_ids if args.quiet else _print_list
            elif args.what == "logs":
                try:
                    severity = severity_number(args.severity) if args.severity else 0
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                response = client.call(
                    "GetRunLogs",
                    runs_pb2.GetRunLogsRequest(
                        run_id=resolve_run_id(client, args.run_id),
                        limit=args.limit,
                        min_severity_number=severity,
                    ),
                )
                printer = _print_logs
            elif args.what == "show":
                response = client.call(
                    "GetRun", runs_pb2.GetRunRequest(run_id=resolve_run_id(client, args.run_id))
                )
                printer = _print_run
            else:
                response = client.call(
                    "CompareRuns",
                    runs_pb2.CompareRunsRequest(
                        run_ids=[resolve_run_id(client, r) for r in args.run_ids]
                    ),
                )
                printer = _print_compare
                if args.html:
                    _html(client, response, args.html)
                    if not args.json:
                        return 0
    except grpc.RpcError as exc:
        print(f"error: {code_name(exc)}: {error_details(exc)}", file=sys.stderr)
        return 1
    except RunIdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_message(response)
    else:
        printer(response)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    runs = sub.add_parser("runs", help="tracked experiment runs: list, show, compare, logs")
    what = runs.add_subparsers(dest="what", required=True)

    listing = what.add_parser("list", help="runs matching an MLflow-style filter")
    listing.add_argument("--experiment", action="append", help="repeatable (default: all)")
    listing.add_argument(
        "--filter", help="e.g. \"metrics.accuracy > 0.9 and params.lr = '0.01'\" (AND only)"
    )
    listing.add_argument(
        "--order-by", action="append", help="e.g. 'metrics.accuracy DESC' (repeatable)"
    )
    listing.add_argument("--max-results", type=int, help="default 1000, at most 50000")
    listing.add_argument("--page-token", help="the next_page_token a previous page printed")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("-q", "--quiet", action="store_true", help="print only the run ids")
    add_connection_arguments(listing)

    show = what.add_parser("show", help="one run: params, tags, environment, metrics")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")
    add_connection_arguments(show)

    compare = what.add_parser("compare", help="runs side by side; --html for metric curves")
    compare.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    compare.add_argument("--html", metavar="FILE", help="write a comparison page with plots")
    compare.add_argument("--json", action="store_true")
    add_connection_arguments(compare)

    logs = what.add_parser("logs", help="the run's training logs (Python logging), oldest first")
    logs.add_argument("run_id")
    logs.add_argument("--limit", type=int, default=1000)
    logs.add_argument("--severity", help="minimum: DEBUG, INFO, WARN, ERROR, FATAL")
    logs.add_argument("--json", action="store_true")
    add_connection_arguments(logs)
    runs.set_defaults(func=_run)
