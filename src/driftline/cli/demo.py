"""`driftline demo`: a newcomer's first five minutes (the design is in driftline/demo/).

    driftline demo [--duration short|normal|long|SECONDS] [--data-dir DIR] [--keep]
                   [--report FILE] [--json]

Progress goes to stderr; the findings (or, with --json, one JSON object) to stdout. Exit codes:
0 done, 1 the demo failed (its message says where; the collector's log is in the data dir),
2 bad arguments, 130 interrupted (Ctrl-C or SIGTERM; the collector is stopped either way).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import grpc


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from driftline.demo import scenario

    try:
        duration_s = scenario.parse_duration(args.duration)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from driftline.demo.app import DemoOptions, run_demo
        from driftline.demo.collector import CollectorError
        from driftline.demo.findings import print_findings
    except ImportError as exc:  # the SDK's OpenTelemetry packages: pip install driftline[sdk]
        print(f"error: the demo needs driftline[sdk]: {exc}", file=sys.stderr)
        return 1
    options = DemoOptions(
        duration_s=duration_s,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        keep=args.keep,
        report=Path(args.report),
    )
    # SIGTERM unwinds like Ctrl-C, so the demo's clean-up (stop the collector) runs.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run_demo(options)
    except (CollectorError, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        print(f"error: the query API answered {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_findings(result, sys.stdout)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = sub.add_parser(
        "demo",
        help="start a collector, serve a model, send drifting traffic, show what driftline found",
    )
    demo.add_argument(
        "--duration", default="short", metavar="short|normal|long|SECONDS",
        help="traffic time: short 24s (about 40s in all, the default), normal 2min, long 10min",
    )  # fmt: skip
    demo.add_argument(
        "--data-dir", metavar="DIR", help="keep the collector's data here (default: a temp dir)"
    )
    demo.add_argument(
        "--keep", action="store_true", help="leave the collector running to try the commands"
    )
    demo.add_argument(
        "--report", default="driftline-demo-report.html", metavar="FILE",
        help="the HTML drift report (default driftline-demo-report.html)",
    )  # fmt: skip
    demo.add_argument("--json", action="store_true", help="the findings as one JSON object")
    demo.set_defaults(func=_cmd_demo)
