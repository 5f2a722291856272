"""`make bench`: OTLP gRPC → WAL (fsync) → ClickHouse throughput of a running driftline.

Starts `driftline serve` on free ports in a temporary data directory, then:
  1. saturation: closed-loop load of 1000-span requests → acknowledged (durable) spans/s and
     RPC latency p50/p99;
  2. landing: waits for the ClickHouse sink to catch up (WAL cursor lag 0 on /metrics) and
     counts rows via the query API → the end-to-end (sustained) spans/s;
  3. paced load at half the 150k target and at half the measured rate → p99 latency there,
     each followed by a catch-up;
and reports the collector's peak RSS. One JSON object on stdout; progress on stderr.

    python bench/ingest_bench.py [--duration 20] [--processes 2] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import run_load


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _wait_for_sink(metrics_url: str, timeout_s: float) -> bool:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if _sink_lag(metrics_url) == 0:
            return True
        time.sleep(0.5)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--wal-sync", default="always")
    parser.add_argument("--land-timeout", type=float, default=300.0)
    parser.add_argument(
        "--target", type=float, default=150_000, help="the durable spans/s target (paced at half)"
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    server_log = open(data_dir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [
            sys.executable, "-m", "driftline", "serve", "--data-dir", str(data_dir),
            "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
            "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--console", "127.0.0.1:0",
            "--wal-sync", args.wal_sync,
        ],
        stderr=server_log,
    )  # fmt: skip
    try:
        endpoints_file = data_dir / "endpoints.json"
        deadline = time.time() + 60
        while not endpoints_file.exists():
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.1)
        endpoints = json.loads(endpoints_file.read_text())
        _log(f"server pid {server.pid} ready: {endpoints}")

        metrics_url = f"http://{endpoints['metrics']}/metrics"
        query = endpoints["query_grpc"]

        def catch_up(phase: dict[str, Any], started: float) -> None:
            """Wait until the sink has inserted everything acknowledged; the end-to-end rate
            is all acknowledged spans over the time from load start to the last insert."""
            caught = _wait_for_sink(metrics_url, args.land_timeout)
            landed = int(_sql(query, "SELECT count() FROM otel_traces")[0][0])
            phase["sink_caught_up"] = caught
            phase["rows_landed_total"] = landed
            phase["load_to_landed_s"] = round(time.time() - started, 1)

        cpu0 = _cpu_s(server.pid)
        _log(f"saturation: {args.processes}x{args.concurrency} lanes, {args.duration}s")
        started = time.time()
        full = run_load(
            endpoints["otlp_grpc"], processes=args.processes, concurrency=args.concurrency,
            duration_s=args.duration, warmup_s=args.warmup, spans=args.spans,
        )  # fmt: skip
        full["collector_cpu_pct_of_one_core"] = round(
            100 * (_cpu_s(server.pid) - cpu0) / (time.time() - started), 1
        )
        _log(f"saturation result: {full}")
        catch_up(full, started)
        sent_so_far = full["rows_landed_total"]
        full["sink_spans_per_s"] = round(sent_so_far / full["load_to_landed_s"])
        _log(f"caught up: {full}")

        paced: dict[str, Any] = {}
        for label, rate in (
            ("target_half", args.target / 2),
            ("measured_half", full["acked_spans_per_s"] / 2),
        ):
            _log(f"{label}: {rate:.0f} spans/s paced for {args.duration}s")
            started = time.time()
            phase = run_load(
                endpoints["otlp_grpc"], processes=1, concurrency=args.concurrency,
                duration_s=args.duration, warmup_s=args.warmup, spans=args.spans,
                rate_spans_s=rate,
            )  # fmt: skip
            phase["rate_spans_s"] = round(rate)
            catch_up(phase, started)
            _log(f"{label} result: {phase}")
            paced[label] = phase

        report = {
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "spans_per_request": args.spans,
            "wal_sync": args.wal_sync,
            "saturation": full,
            "paced": paced,
            "collector_peak_rss_mb": round(_peak_rss_mb(server.pid), 1),
        }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    raise SystemExit(main())
