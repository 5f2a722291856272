"""`driftline …`: the command line. The only place that exits the process.

driftline serve [--config FILE] [--data-dir DIR] [--otlp-grpc H:P] [--otlp-http H:P]
                [--query-grpc H:P] [--metrics H:P] [--console H:P] [--clickhouse-url URL]
driftline check-config FILE
driftline schema [--config FILE] [--cluster NAME]     print the DDL that serve would run
driftline sql "SELECT …" [--json]                      read-only SQL through the query API
driftline models | trace ID | logs | label               browse models, traces, logs; add labels
driftline query latency|drift|performance …             the monitoring answers
driftline report drift --html FILE …                    a drift report with distribution plots
driftline reference save|list …                         saved reference profiles for drift
driftline demo [--duration short] [--keep]              a first five minutes, end to end
driftline runs list|show|compare …                      tracked experiment runs (MLflow filters)
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from driftline import __version__
from driftline.config.load import load_config
from driftline.config.model import DriftlineConfig
from driftline.errors import ConfigError, ListenError, StartupError

# Flag → dotted config field it overrides.
SERVE_FLAGS: dict[str, str] = {
    "data_dir": "data_dir",
    "otlp_grpc": "receivers.otlp.protocols.grpc.endpoint",
    "otlp_http": "receivers.otlp.protocols.http.endpoint",
    "query_grpc": "query.endpoint",
    "metrics": "telemetry.metrics_endpoint",
    "mlflow": "mlflow.endpoint",
    "clickhouse_url": "exporters.clickhouse.endpoint",
    "wal_sync": "wal.sync",
    "console": "console.endpoint",
}


def config_from_args(args: argparse.Namespace) -> DriftlineConfig:
    overrides: dict[str, Any] = {
        dotted: getattr(args, flag, None) for flag, dotted in SERVE_FLAGS.items()
    }
    return load_config(args.config, overrides=overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    logging.basicConfig(
        level=cfg.telemetry.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from driftline.service import serve

    try:
        asyncio.run(serve(cfg))
    except StartupError as exc:
        print(f"error: {startup_problem(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _USER_FIXABLE_ERRNOS:
            raise
        print(f"error: driftline cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


# OSErrors at startup that are the environment's, not a bug: one line, exit 2.
_USER_FIXABLE_ERRNOS = {
    errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES, errno.EPERM, errno.ENOSPC,
    errno.EROFS, errno.ENOENT, errno.ENOTDIR,
}  # fmt: skip


def startup_problem(exc: StartupError) -> str:
    """The one line for a startup failure, with what to do about it."""
    if not isinstance(exc, ListenError):
        return str(exc)
    flag = next((f"--{f.replace('_', '-')}" for f, k in SERVE_FLAGS.items()
                 if k == exc.config_key), exc.config_key)  # fmt: skip
    reason = _listen_probe(exc.endpoint) or exc.detail
    return (
        f"{exc.component} cannot listen on {exc.endpoint}: {reason} "
        f"(choose another address with {flag} HOST:PORT; port 0 picks a free one)"
    )


def _listen_probe(endpoint: str) -> str:
    """Why a listen failed, asked of the OS directly (gRPC only says "Failed to bind")."""
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"cannot resolve {host!r} ({exc})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the address is already in use (is another driftline running?)"
            return exc.strerror or str(exc)
    return ""


def _cmd_check_config(args: argparse.Namespace) -> int:
    load_config(args.file)
    print(f"{args.file}: ok")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from driftline.config.load import replace_path
    from driftline.storage.schema import DdlContext, all_statements

    cfg = load_config(args.config)
    if args.cluster:
        cfg = replace_path(cfg, "exporters.clickhouse.cluster_name", args.cluster)
    for statement in all_statements(DdlContext.from_config(cfg.exporters.clickhouse)):
        print(statement.strip() + ";\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftline", description="OpenTelemetry collector for ML inference."
    )
    parser.add_argument("--version", action="version", version=f"driftline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="receive OTLP, store it in ClickHouse, serve queries")
    serve.add_argument("--config", help="YAML configuration file")
    serve.add_argument("--data-dir", help="WAL and embedded ClickHouse (default ./driftline-data)")
    serve.add_argument(
        "--otlp-grpc", metavar="HOST:PORT", help="OTLP gRPC (default 127.0.0.1:4317)"
    )
    serve.add_argument(
        "--otlp-http", metavar="HOST:PORT", help="OTLP HTTP (default 127.0.0.1:4318)"
    )
    serve.add_argument(
        "--query-grpc", metavar="HOST:PORT", help="query API (default 127.0.0.1:4319)"
    )
    serve.add_argument(
        "--metrics", metavar="HOST:PORT", help="Prometheus /metrics (default 127.0.0.1:9464)"
    )
    serve.add_argument("--mlflow", metavar="HOST:PORT", help="MLflow API (default 127.0.0.1:5000)")
    serve.add_argument(
        "--console", metavar="HOST:PORT", help="web console (default 127.0.0.1:4320)"
    )
    serve.add_argument(
        "--clickhouse-url",
        metavar="URL",
        help="http(s)://user:pass@host:8123/db instead of embedded chDB",
    )
    serve.add_argument(
        "--wal-sync",
        choices=["always", "interval", "never"],
        help="WAL fsync policy (default always)",
    )
    serve.set_defaults(func=_cmd_serve)

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check_config)

    schema = sub.add_parser("schema", help="print the ClickHouse DDL for a configuration")
    schema.add_argument("--config")
    schema.add_argument(
        "--cluster", help="render for this cluster_name (ON CLUSTER, Replicated, Distributed)"
    )
    schema.set_defaults(func=_cmd_schema)

    try:
        from driftline.cli import demo, explore, quality, query, references, runs, sql
    except ImportError:  # the query API's generated code is missing (run `make proto`)
        pass
    else:
        sql.add_parser(sub)
        explore.add_parsers(sub)
        quality.add_parsers(query.add_parsers(sub))
        references.add_parsers(sub)
        demo.add_parser(sub)
        runs.add_parsers(sub)
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()


def _stdout_closed() -> int:
    """`driftline … | head`: the reader left. Exit quietly, as a command killed by SIGPIPE
    would (128 + 13), and point stdout at /dev/null so the exit's flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE
