"""`make bench`: how fast acknowledged spans become rows, against rotel measured in the same run.

One JSON object on stdout (progress on stderr), every phase on the same machine, same load
(`shared/tools/otlp_load.py`: 1000-span inference requests, closed loop, `--processes` x
`--concurrency` lanes):

  rotel        `rotel-agent --exporter blackhole` (receive, decode, drop): its acked spans/s
  ours         `driftline serve` (default config, `wal.sync: always`):
                 acked spans/s (WAL-durable), RPC p50/p99, and the END-TO-END STORED rate:
                 every acknowledged span (warmup included) over the time from the first
                 request to the moment the sink acknowledged the last batch — an ack comes
                 only after every INSERT of the batch, views included, returned, so that is
                 when the last row is present in every table the batch feeds. Row counts per
                 table are then checked against the acknowledged total (exactly once).
  paced        bench/loadgen at 50 % of our end-to-end rate: RPC p50/p99 there
  rss          the collector's peak RSS (VmHWM) over the whole run
  profile      engine time per statement/view of the write path, in this process on a
               scratch chDB: the staging decode alone, then each view added (µs per span)

    python bench/ingest_bench.py [--duration 20] [--processes 1] [--concurrency 8]
    python bench/ingest_bench.py --soak 600   # bounded memory: peak RSS under 10 min of load
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import build_request, run_load

ROOT = Path(__file__).resolve().parents[1]
OTLP_LOAD = Path(os.environ.get("OTLP_LOAD", ROOT.parent.parent / "shared/tools/otlp_load.py"))
if not OTLP_LOAD.exists():
    OTLP_LOAD = Path("/work/shared/tools/otlp_load.py")


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sql(endpoint: str, query: str) -> list[list[Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "driftline", "sql", query, "--json", "--server", endpoint],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return list(json.loads(out.stdout)["rows"])


def _sink_lag(metrics_url: str) -> float | None:
    with urllib.request.urlopen(metrics_url) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('driftline_wal_cursor_lag_records{cursor="clickhouse"}'):
                return float(line.split()[-1])
    return None


def _wait_for_sink(metrics_url: str, timeout_s: float) -> float | None:
    """The wall time at which the sink had acknowledged everything, or None on timeout."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if _sink_lag(metrics_url) == 0:
            return time.time()
        time.sleep(0.1)
    return None


def _otlp_load(target: str, args: argparse.Namespace, watch: int, duration: float) -> Any:
    cmd = [
        sys.executable, str(OTLP_LOAD), "--target", target,
        "--processes", str(args.processes), "--concurrency", str(args.concurrency),
        "--duration", str(duration), "--warmup", str(args.warmup),
        "--pool-size", str(args.pool_size), "--watch-pid", str(watch),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode not in (0, 2):
        raise SystemExit(f"otlp_load failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def _rotel(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import rotel  # the PyPI package bundles the agent binary

    binary = Path(rotel.__file__).parent / "rotel-agent"
    grpc_port, http_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            str(binary), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
            "--otlp-http-endpoint", f"127.0.0.1:{http_port}", "--exporter", "blackhole",
        ],
        stdout=subprocess.DEVNULL, stderr=open(scratch / "rotel.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    try:
        time.sleep(1.0)
        report = _otlp_load(f"127.0.0.1:{grpc_port}", args, proc.pid, args.duration)
        watched = report["watched"][0] if report["watched"] else {}
        return {
            "acked_spans_per_s": report["measured"]["acked_per_s"],
            "rpc_latency_ms": report["measured"]["latency_ms"],
            "cpu_pct_of_one_core": watched.get("cpu_pct_of_one_core"),
            "peak_rss_mib": watched.get("peak_rss_mib"),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def _start_server(data_dir: Path, wal_sync: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    server_log = open(data_dir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [
            sys.executable, "-m", "driftline", "serve", "--data-dir", str(data_dir),
            "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
            "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
            "--mlflow", "127.0.0.1:0", "--console", "127.0.0.1:0", "--wal-sync", wal_sync,
        ],
        stderr=server_log,
    )  # fmt: skip
    endpoints_file = data_dir / "endpoints.json"
    deadline = time.time() + 60
    while not endpoints_file.exists():
        if server.poll() is not None or time.time() > deadline:
            raise SystemExit(f"server did not start; see {data_dir / 'server.log'}")
        time.sleep(0.1)
    return server, json.loads(endpoints_file.read_text())


def _stored(query: str) -> dict[str, int]:
    """Rows per table a trace batch feeds (the trace-id table: distinct trace ids)."""
    counts = _sql(
        query,
        "SELECT (SELECT count() FROM otel_traces), (SELECT count() FROM ml_inferences), "
        "(SELECT count() FROM ml_features), (SELECT uniqExact(TraceId) FROM otel_traces), "
        "(SELECT uniqExact(TraceId) FROM otel_traces_trace_id_ts)",
    )[0]
    names = ("otel_traces", "ml_inferences", "ml_features", "trace_ids", "trace_id_ts_ids")
    return {n: int(v) for n, v in zip(names, counts, strict=True)}


def _ours(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    server, endpoints = _start_server(data_dir, args.wal_sync)
    metrics_url = f"http://{endpoints['metrics']}/metrics"
    query = endpoints["query_grpc"]
    try:
        _log(f"ours: saturation {args.processes}x{args.concurrency}, {args.duration}s")
        report = _otlp_load(endpoints["otlp_grpc"], args, server.pid, args.duration)
        first_request = report["window_unix"][0] - args.warmup
        stored_at = _wait_for_sink(metrics_url, args.land_timeout)
        acked_total = int(report["total"]["acked"])
        stored = _stored(query)
        e2e = acked_total / (stored_at - first_request) if stored_at else 0.0
        saturation = {
            "acked_spans_per_s": report["measured"]["acked_per_s"],
            "rpc_latency_ms": report["measured"]["latency_ms"],
            "errors_by_code": report["measured"]["errors_by_code"],
            "cpu_pct_of_one_core": (report["watched"] or [{}])[0].get("cpu_pct_of_one_core"),
            "acked_spans_total": acked_total,
            "stored_end_to_end_spans_per_s": round(e2e),
            "first_request_to_stored_s": round((stored_at or time.time()) - first_request, 2),
            "sink_caught_up": stored_at is not None,
            "rows": stored,
            "exactly_once": stored["otel_traces"] == acked_total
            and stored["ml_inferences"] == acked_total
            and stored["ml_features"] % max(acked_total, 1) == 0
            and stored["trace_ids"] == stored["trace_id_ts_ids"],
        }
        _log(f"ours: {saturation}")

        rate = max(e2e, 1000.0) / 2
        _log(f"paced at 50 % of the end-to-end rate: {rate:.0f} spans/s for {args.duration}s")
        paced = run_load(
            endpoints["otlp_grpc"], processes=1, concurrency=args.concurrency,
            duration_s=args.duration, warmup_s=args.warmup, spans=1000, rate_spans_s=rate,
        )  # fmt: skip
        paced["rate_spans_s"] = round(rate)
        paced["sink_caught_up"] = _wait_for_sink(metrics_url, args.land_timeout) is not None
        soak: dict[str, Any] = {}
        if args.soak:
            soak = _soak(args, endpoints, metrics_url, e2e, server.pid)
        return {
            "saturation": saturation,
            "paced_half_e2e": paced,
            "soak": soak,
            "peak_rss_mb": round(_peak_rss_mb(server.pid), 1),
        }
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def _soak(
    args: argparse.Namespace, endpoints: dict[str, str], metrics_url: str, e2e: float, pid: int
) -> dict[str, Any]:
    """80 % of the end-to-end rate for `--soak` seconds: peak RSS, and the WAL lag's drain."""
    rate = 0.8 * e2e
    _log(f"soak: {rate:.0f} spans/s for {args.soak}s")
    phase = run_load(
        endpoints["otlp_grpc"], processes=1, concurrency=args.concurrency,
        duration_s=args.soak, warmup_s=0, spans=1000, rate_spans_s=rate,
    )  # fmt: skip
    stopped = time.time()
    drained = _wait_for_sink(metrics_url, args.land_timeout)
    return {
        "rate_spans_s": round(rate),
        "duration_s": args.soak,
        "acked_spans_per_s": phase.get("acked_spans_per_s"),
        "lag_zero_after_stop_s": round(drained - stopped, 2) if drained else None,
        "peak_rss_mb": round(_peak_rss_mb(pid), 1),
    }


def _profile(requests: int) -> dict[str, Any]:
    """Engine µs per span of the trace write path, one statement at a time, one thread."""
    from driftline.signals import Signal
    from driftline.storage.client import Target, connect
    from driftline.storage.ingest_sql import STRUCTURES
    from driftline.storage.ingest_staging import span_views, staging_statement, view_name
    from driftline.storage.inserter import ProtobufInserter, length_delimited
    from driftline.storage.migrate import migrate
    from driftline.storage.schema import DdlContext

    scratch = Path(tempfile.mkdtemp(prefix="driftline-profile-"))
    target = Target(embedded_path=str(scratch / "ch"))
    client = connect(target)
    migrate(client, DdlContext())
    rng = random.Random(7)
    batch = scratch / "batch.pb"
    batch.write_bytes(length_delimited([build_request(1000, rng) for _ in range(requests)]))
    spans = requests * 1000
    inserter = ProtobufInserter(client, target, scratch / "tmp")
    sql = staging_statement().render(
        f"file('{batch}', 'Protobuf', '{STRUCTURES[Signal.TRACES]}')", "default"
    )
    views = [v.table for v in span_views()]

    def timed(label: str) -> float:
        best = float("inf")
        for rep in range(3):
            started = time.perf_counter()
            client.command(sql, settings=inserter._settings(Signal.TRACES, f"{label}-{rep}"))
            best = min(best, time.perf_counter() - started)
        return best * 1e6 / spans

    for table in views:
        client.command(f"DETACH TABLE {view_name(table)}")
    steps = {"decode (staging, no views)": timed("none")}
    previous = steps["decode (staging, no views)"]
    for table in views:
        client.command(f"ATTACH TABLE {view_name(table)}")
        total = timed(table)
        label = f"+ view {table}" + (" (+ trace-id view)" if table == "otel_traces" else "")
        steps[label] = round(total - previous, 2)
        previous = total
    steps["decode (staging, no views)"] = round(steps["decode (staging, no views)"], 2)
    return {"us_per_span": steps, "total_us_per_span": round(previous, 2), "spans": spans}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool-size", type=int, default=64)
    parser.add_argument("--wal-sync", default="always")
    parser.add_argument("--land-timeout", type=float, default=600.0)
    parser.add_argument("--soak", type=float, default=0.0, help="seconds at 80 %% of e2e")
    parser.add_argument("--profile-requests", type=int, default=20)
    parser.add_argument("--skip-rotel", action="store_true")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    rotel = {} if args.skip_rotel else _rotel(args, scratch)
    _log(f"rotel blackhole: {rotel}")
    ours = _ours(args, scratch)
    profile = _profile(args.profile_requests) if args.profile_requests else {}
    rotel_rate = rotel.get("acked_spans_per_s") or 0
    sat = ours["saturation"]
    report = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "load": {"processes": args.processes, "concurrency": args.concurrency,
                 "duration_s": args.duration, "spans_per_request": 1000},
        "rotel_blackhole": rotel,
        "ours": ours,
        "ratios_to_rotel": {
            "acked": round(sat["acked_spans_per_s"] / rotel_rate, 3) if rotel_rate else None,
            "stored_end_to_end": (
                round(sat["stored_end_to_end_spans_per_s"] / rotel_rate, 3) if rotel_rate else None
            ),
        },
        "profile": profile,
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
