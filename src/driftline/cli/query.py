"""`driftline query latency|drift|performance` and `driftline report drift --html FILE`.

    driftline query latency --model fraud [--since 1h] [--by version,bucket] [--bucket 60]
                            [--slo-ms 250 --slo-target 0.99] [--compare V1 V2]
    driftline query drift --model fraud [--since 1h] [--reference-since 25h --reference-until 1h]
                          [--reference-version 3 | --reference NAME] [--features a,b]
                          [--method psi] [--threshold X] [--thresholds fixed|reference]
                          [--window 1h]
    driftline query performance --model fraud [--since 24h] [--by version] [--positive 1]
                                [--reference-since 48h --reference-until 24h]
    driftline report drift --model fraud --html drift.html   (same window flags as query drift)

Times (`--since`, `--until`, `--reference-since`, `--reference-until`) are durations before now
(`1h`) or absolute ISO-8601 times (`2026-12-01T20:15:03.123Z`; UTC without an offset).
Readable tables by default, `--json` for scripts (the response as JSON, proto field names).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.message import Message

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.cli.client import Connection, QueryClient, add_connection_arguments
from driftline.cli.hints import model_hint
from driftline.cli.output import print_message
from driftline.cli.sql import code_name, error_details
from driftline.config.load import parse_duration
from driftline.report.drift_view import drift_view
from driftline.report.html import render_drift_report

# The server's significance level for `slower` (analysis/latency.py); FASTER uses the same.
REGRESSION_ALPHA = 0.05


def ago_ns(value: str | None, now_ns: int) -> int:
    """A duration before now (`1h`), or an absolute time (`2026-12-01T20:15:03.123Z`, UTC when
    no offset is given): absolute times make a query reproducible later (`driftline demo`)."""
    if not value:
        return 0
    try:
        return now_ns - int(parse_duration(value) * 1e9)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"expected a duration such as 1h or a time such as 2026-12-01T20:15:00Z, got {value!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1) * 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_range(since: str | None, until: str | None, now_ns: int) -> query_pb2.TimeRange:
    return query_pb2.TimeRange(
        start_unix_nano=ago_ns(since, now_ns), end_unix_nano=ago_ns(until, now_ns)
    )


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    text = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def when_text(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _call(args: argparse.Namespace, method: str, request: Message) -> Any:
    with QueryClient(Connection.from_args(args)) as client:
        return client.call(method, request)


# ---- latency -----------------------------------------------------------------------------------


def _latency(args: argparse.Namespace) -> Message:
    now = time.time_ns()
    request = query_pb2.GetLatencyRequest(
        model=args.model or "", range=time_range(args.since, args.until, now),
        group_by=[g for g in (args.by or "").split(",") if g], bucket_seconds=args.bucket,
        slo_threshold_ms=args.slo_ms or 0.0, slo_target=args.slo_target or 0.0,
    )  # fmt: skip
    if args.compare:
        request.baseline_version, request.candidate_version = args.compare
    response: query_pb2.GetLatencyResponse = _call(args, "GetLatency", request)
    return response


def _print_latency(r: query_pb2.GetLatencyResponse) -> None:
    keys = list(r.groups[0].keys) if r.groups else []
    rows = [
        [*(g.keys[k] if k != "bucket" else when_text(int(g.keys[k])) for k in keys), g.count,
         g.error_rate, g.p50_ms, g.p90_ms, g.p95_ms, g.p99_ms, g.max_ms]
        for g in r.groups
    ]  # fmt: skip
    print(
        text_table(
            [*keys, "count", "error_rate", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"], rows
        )
    )
    if r.burn_rates:
        print()
        print(text_table(
            ["window", "long", "short", "factor", "long_burn", "short_burn", "alerting"],
            [[b.window, f"{b.long_seconds}s", f"{b.short_seconds}s", b.factor, b.long_burn,
              b.short_burn, b.alerting] for b in r.burn_rates],
        ))  # fmt: skip
        print(f"page: {_fmt(r.page)}  ticket: {_fmt(r.ticket)}")
    if r.HasField("regression"):
        g = r.regression
        verdict = regression_verdict(g)
        print(
            f"\n{g.candidate} vs {g.baseline}: p50 {g.candidate_p50_ms:.2f} vs "
            f"{g.baseline_p50_ms:.2f} ms, p99 {g.candidate_p99_ms:.2f} vs "
            f"{g.baseline_p99_ms:.2f} ms; "
            f"Mann-Whitney p={g.p_value:.3g}, Cliff's delta={g.cliffs_delta:.3f} → {verdict}"
        )


def regression_verdict(g: query_pb2.VersionRegression) -> str:
    """SLOWER / FASTER when the test says so, else no significant difference."""
    if g.slower:
        return "SLOWER"
    if g.cliffs_delta < 0 and g.p_value < REGRESSION_ALPHA:
        return "FASTER"
    return "no significant difference"


# ---- drift -------------------------------------------------------------------------------------


def _drift_request(args: argparse.Namespace) -> query_pb2.GetDriftRequest:
    now = time.time_ns()
    current = time_range(args.since, args.until, now)
    if current.start_unix_nano and not current.end_unix_nano:
        current.end_unix_nano = now  # the same `now` as the start: --window 1h --since 24h is 24
    request = query_pb2.GetDriftRequest(
        model=args.model,
        current=query_pb2.DriftWindowSpec(range=current, version=args.version or ""),
        reference=query_pb2.DriftWindowSpec(
            range=time_range(args.reference_since, args.reference_until, now),
            version=args.reference_version or "",
            saved_reference=args.reference or "",
        ),
        features=[f for f in (args.features or "").split(",") if f],
        method=args.method or "",
        drift_share=args.drift_share,
        window_seconds=int(parse_duration(args.window)) if args.window else 0,
        threshold_mode=args.thresholds,
        reference_chunks=args.reference_chunks,
    )
    if args.threshold is not None:
        request.threshold = args.threshold
    return request


def _drift(args: argparse.Namespace) -> Message:
    response: query_pb2.GetDriftResponse = _call(args, "GetDrift", _drift_request(args))
    return response


def _compared(r: query_pb2.GetDriftResponse) -> str:
    """The reference the server compared against, and how it was chosen."""
    version = f" version {r.reference_version}" if r.reference_version else ""
    how = f" ({r.reference_chosen})" if r.reference_chosen else ""
    span = (
        f"{when_text(r.reference_range.start_unix_nano)} … "
        f"{when_text(r.reference_range.end_unix_nano)}"
    )
    return f"{span}{version}{how}"


def _print_drift(r: query_pb2.GetDriftResponse) -> None:
    print(f"reference: {_compared(r)}")
    for window in r.windows:
        if window.no_data:
            start, end = when_text(window.start_unix_nano), when_text(window.end_unix_nano)
            print(f"{start} … {end}: no data (no inferences in this window)\n")
            continue
        verdict = "DATASET DRIFT" if window.dataset_drift else "no dataset drift"
        print(
            f"{when_text(window.start_unix_nano)} … {when_text(window.end_unix_nano)}: {verdict} "
            f"({window.drifted_count}/{len(window.features)} features, share "
            f"{window.share:.2f} vs {r.drift_share:.2f})"
        )
        print(text_table(
            ["feature", "kind", "method", "score", "threshold", "drift", "n_ref", "n_cur"],
            [[f.feature, f.kind, f.method, f.score, f.threshold, f.drifted, f.n_reference,
              f.n_current]
             for f in sorted(window.features, key=lambda f: (not f.drifted, f.feature))],
        ))  # fmt: skip
        print()


def _report(args: argparse.Namespace) -> int:
    response: query_pb2.GetDriftResponse = _call(args, "GetDrift", _drift_request(args))
    view = drift_view(response, _compared(response))
    with open(args.html, "w", encoding="utf-8") as out:
        out.write(render_drift_report(view))
    print(f"wrote {args.html}: {view.drifted_count} of {len(view.features)} features drifted")
    return 0


# ---- performance -------------------------------------------------------------------------------


def _performance(args: argparse.Namespace) -> Message:
    now = time.time_ns()
    request = query_pb2.GetPerformanceRequest(
        model=args.model, range=time_range(args.since, args.until, now),
        group_by=[g for g in (args.by or "").split(",") if g], bucket_seconds=args.bucket,
        positive_class=args.positive, task=args.task or "",
    )  # fmt: skip
    if args.reference_since:
        request.reference.CopyFrom(time_range(args.reference_since, args.reference_until, now))
    response: query_pb2.GetPerformanceResponse = _call(args, "GetPerformance", request)
    return response


def _print_performance(r: query_pb2.GetPerformanceResponse) -> None:
    names = sorted({m for g in r.groups for m in g.metrics})
    estimated = sorted({m for g in r.groups for m in g.estimated})
    keys = list(r.groups[0].keys) if r.groups else []
    rows = [
        [*(g.keys[k] if k != "bucket" else when_text(int(g.keys[k])) for k in keys), g.count,
         g.labelled, *(g.metrics.get(m, float("nan")) for m in names),
         *(g.estimated.get(m, float("nan")) for m in estimated)]
        for g in r.groups
    ]  # fmt: skip
    print(f"task: {r.task}")
    print(text_table([*keys, "count", "labelled", *names, *(f"est_{m}" for m in estimated)], rows))
    if r.HasField("accuracy_drift"):
        d = r.accuracy_drift
        print(
            f"\naccuracy {d.reference_accuracy:.4f} → {d.current_accuracy:.4f} "
            f"({d.difference:+.4f}, p={d.p_value:.3g})"
        )


# ---- wiring ------------------------------------------------------------------------------------

PRINTERS = {"latency": _print_latency, "drift": _print_drift, "performance": _print_performance}
CALLS = {"latency": _latency, "drift": _drift, "performance": _performance}


def rpc_error(args: argparse.Namespace, exc: grpc.RpcError) -> str:
    """`error: CODE: details`, and for an unknown `--model` the names that exist."""
    text = f"error: {code_name(exc)}: {error_details(exc)}"
    model = getattr(args, "model", "") or ""
    if model and code_name(exc) == "NOT_FOUND" and "model" in error_details(exc):
        with QueryClient(Connection.from_args(args)) as client:
            hint = model_hint(client, model)
        text += f" ({hint})" if hint else ""
    return text


def _run_query(args: argparse.Namespace) -> int:
    try:
        response = CALLS[args.what](args)
    except grpc.RpcError as exc:
        print(rpc_error(args, exc), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print_message(response)
    else:
        PRINTERS[args.what](response)  # type: ignore[operator]
    return 0


def _run_report(args: argparse.Namespace) -> int:
    try:
        return _report(args)
    except grpc.RpcError as exc:
        print(rpc_error(args, exc), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def window_flags(p: argparse.ArgumentParser) -> None:
    """The model and the two windows compared (drift, quality, multivariate)."""
    p.add_argument("--model", required=True)
    p.add_argument("--since", metavar="DURATION", help="current window start (default 1h ago)")
    p.add_argument("--until", metavar="DURATION", help="current window end (default now)")
    p.add_argument("--version", help="current window: this version only")
    p.add_argument(
        "--reference-since", metavar="DURATION",
        help="default: the 24h before the current window (or, with another --reference-version, "
        "the current range; on a model younger than the current window, its earlier half)",
    )  # fmt: skip
    p.add_argument(
        "--reference-until", metavar="DURATION",
        help="default: the current start (the current end if that is not after --reference-since)",
    )  # fmt: skip
    p.add_argument("--reference-version", help="reference: this version only")
    p.add_argument(
        "--reference", metavar="NAME", help="a saved reference (driftline reference save)"
    )
    p.add_argument("--features", help="comma-separated (default: all)")
    p.add_argument("--reference-chunks", type=int, default=10, metavar="N")
    p.add_argument("--window", metavar="DURATION", help="split the current range into windows")
    add_connection_arguments(p)


def window_specs(
    args: argparse.Namespace, now_ns: int
) -> tuple[query_pb2.DriftWindowSpec, query_pb2.DriftWindowSpec]:
    """(reference, current) from `window_flags`' arguments."""
    current = query_pb2.DriftWindowSpec(
        range=time_range(args.since, args.until, now_ns), version=args.version or ""
    )
    reference = query_pb2.DriftWindowSpec(
        range=time_range(args.reference_since, args.reference_until, now_ns),
        version=args.reference_version or "",
        saved_reference=args.reference or "",
    )
    return reference, current


def _window_flags(p: argparse.ArgumentParser) -> None:
    window_flags(p)
    p.add_argument("--method", help="Evidently method name for every column, e.g. psi")
    p.add_argument("--threshold", type=float)
    p.add_argument(
        "--thresholds",
        choices=["fixed", "reference"],
        default="fixed",
        help="fixed: Evidently's defaults; reference: NannyML-style mean +- 3 std of chunks",
    )
    p.add_argument("--drift-share", type=float, default=0.5)


def add_parsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """`query …` and `report …`; returns `query`'s subcommands, for other modules to extend."""
    query = sub.add_parser("query", help="latency, drift, performance and quality answers")
    what = query.add_subparsers(dest="what", required=True)

    lat = what.add_parser("latency", help="percentiles, error rate, SLO burn, regressions")
    lat.add_argument("--model", default="")
    lat.add_argument("--since", metavar="DURATION", help="default 1h")
    lat.add_argument("--until", metavar="DURATION")
    lat.add_argument("--by", help="comma-separated: model,version,span_name,bucket")
    lat.add_argument("--bucket", type=int, default=60, help="bucket seconds (with --by bucket)")
    lat.add_argument("--slo-ms", type=float, help="SLO latency threshold in ms")
    lat.add_argument("--slo-target", type=float, help="SLO target ratio, e.g. 0.99")
    lat.add_argument("--compare", nargs=2, metavar=("BASELINE", "CANDIDATE"))
    lat.add_argument("--json", action="store_true")
    add_connection_arguments(lat)

    drift = what.add_parser("drift", help="drift per feature (Evidently's methods)")
    _window_flags(drift)
    drift.add_argument("--json", action="store_true")

    perf = what.add_parser("performance", help="accuracy etc. from labels; CBPE estimates")
    perf.add_argument("--model", required=True)
    perf.add_argument("--since", metavar="DURATION", help="default 24h")
    perf.add_argument("--until", metavar="DURATION")
    perf.add_argument("--by", help="comma-separated: version,bucket")
    perf.add_argument("--bucket", type=int, default=3600)
    perf.add_argument("--positive", default="1", help="the positive class (default 1)")
    perf.add_argument("--task", choices=["classification", "regression"])
    perf.add_argument("--reference-since", metavar="DURATION", help="accuracy drift from here")
    perf.add_argument("--reference-until", metavar="DURATION")
    perf.add_argument("--json", action="store_true")
    add_connection_arguments(perf)
    query.set_defaults(func=_run_query)

    report = sub.add_parser("report", help="self-contained HTML reports")
    kinds = report.add_subparsers(dest="kind", required=True)
    drift_report = kinds.add_parser("drift", help="drift report with distribution plots")
    _window_flags(drift_report)
    drift_report.add_argument("--html", required=True, metavar="FILE")
    report.set_defaults(func=_run_report)
    return what  # type: ignore[no-any-return]
