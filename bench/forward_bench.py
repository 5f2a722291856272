"""`make bench`: OTLP → driftline → OTLP forwarding throughput, and rotel's, on this machine.

Every figure is counted at a downstream counting sink (bench/count_sink.py, a separate
process), from its per-0.25 s counts at the edges of the measuring window:

  1. live:  closed-loop load of 1000-span requests into `driftline serve` (default config, so
            the ClickHouse sink shares the CPU) with one `exporters.otlp` destination → the
            spans/s delivered at the sink while the load runs;
  2. drain: the destination is down while the same load runs (the WAL keeps everything),
            then it comes back → the spans/s at which the forwarder delivers its backlog;
  3. rotel: the same load into `rotel-agent --exporter otlp` pointed at the same sink → the
            spans/s rotel delivers; the ratio driftline/rotel is reported.

The destination gets `compression: none` unless `--compression gzip` (grpcio's gzip, at zlib's
default level, caps a core at ~100k spans/s by itself; see the README). The load is
bench/loadgen.py, or the acceptance tool with `--otlp-load PATH`
(/work/shared/tools/otlp_load.py). One JSON object on stdout; progress on stderr.

    python bench/forward_bench.py [--duration 15] [--compression none|gzip] [--otlp-load PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import run_load

HERE = Path(__file__).parent


def _log(msg: str) -> None:
    print(f"[forward-bench] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sink:
    def __init__(self, work: Path) -> None:
        self.port = _free_port()
        self.stats = work / f"sink-{self.port}.json"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sink:
        self.stats.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "count_sink.py"), "--listen", f"127.0.0.1:{self.port}",
             "--stats-file", str(self.stats)],
        )  # fmt: skip
        while not self.stats.exists():
            time.sleep(0.05)
        return self

    def read(self) -> dict[str, float]:
        while True:
            try:
                return dict(json.loads(self.stats.read_text()))
            except (OSError, ValueError):
                time.sleep(0.01)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None


def _load(target: str, args: argparse.Namespace, duration_s: float) -> dict[str, Any]:
    if args.otlp_load:
        out = subprocess.run(
            [sys.executable, args.otlp_load, "--target", target, "--duration", str(duration_s),
             "--warmup", "0", "--spans-per-request", str(args.spans),
             "--processes", str(args.processes), "--concurrency", str(args.concurrency)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        measured = json.loads(out.stdout)["measured"]
        return {"acked_spans_per_s": measured["acked_per_s"], "errors": measured["errors_by_code"]}
    result = run_load(
        target, processes=args.processes, concurrency=args.concurrency,
        duration_s=duration_s, warmup_s=0.0, spans=args.spans,
    )  # fmt: skip
    return {k: result[k] for k in ("acked_spans_per_s", "errors") if k in result}


def _window(sink: Sink, target: str, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    """Load for args.duration while sampling the sink every 0.25 s. Delivered spans/s runs
    from the first span to arrive to the end of the load (pool building and connecting are
    not counted against anyone)."""
    samples: list[dict[str, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(sink.read())
            done.wait(0.25)

    sampler = threading.Thread(target=sample)
    start = sink.read()
    sampler.start()
    cpu0, t0 = _cpu_s(pid), time.time()
    load = _load(target, args, args.duration)
    cpu1, t1 = _cpu_s(pid), time.time()
    done.set()
    sampler.join()
    end = sink.read()
    first = next((x for x in samples if x["items"] > start["items"]), end)
    wall = max(end["t"] - first["t"], 1e-3)
    return {
        **load,
        "delivered_spans_per_s": round((end["items"] - first["items"]) / wall),
        "delivered_requests": int(end["requests"] - start["requests"]),
        "delivery_window_s": round(wall, 1),
        "collector_cpu_pct_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
    }


def _driftline(
    work: Path, sink_port: int, compression: str
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    data = Path(tempfile.mkdtemp(prefix="data-", dir=work))
    config = data / "config.yaml"
    config.write_text(
        "exporters:\n  otlp:\n    - name: bench\n"
        f"      endpoint: 127.0.0.1:{sink_port}\n      tls: {{insecure: true}}\n"
        f"      compression: {compression}\n"
        "      retry_on_failure: {initial_interval: 200ms, max_interval: 1s}\n"
    )
    log = open(data / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftline", "serve", "--data-dir", str(data), "--config",
         str(config), "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
         "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
         "--mlflow", "127.0.0.1:0", "--console", "127.0.0.1:0"],
        stderr=log,
    )  # fmt: skip
    endpoints = data / "endpoints.json"
    deadline = time.time() + 60
    while not endpoints.exists():
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"driftline did not start; see {data / 'server.log'}")
        time.sleep(0.1)
    return proc, json.loads(endpoints.read_text())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _rotel(sink_port: int, compression: str) -> tuple[subprocess.Popen[bytes], str]:
    import rotel

    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(rotel.__file__).parent / "rotel-agent"), "start",
         "--otlp-grpc-endpoint", f"127.0.0.1:{port}", "--otlp-http-endpoint",
         f"127.0.0.1:{_free_port()}", "--exporter", "otlp",
         "--otlp-exporter-endpoint", f"http://127.0.0.1:{sink_port}",
         "--otlp-exporter-protocol", "grpc", "--otlp-exporter-compression", compression],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if time.time() > deadline:
                raise SystemExit("rotel did not start") from None
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--otlp-load", default="", help="path to otlp_load.py (else loadgen)")
    parser.add_argument("--skip-rotel", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="driftline-forward-bench-"))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "spans_per_request": args.spans,
        "compression": args.compression,
        "load": args.otlp_load or "bench/loadgen.py",
    }
    with open("/proc/loadavg") as f:
        report["machine"]["loadavg_at_start"] = f.read().split()[:3]

    sink = Sink(work).start()
    try:
        proc, endpoints = _driftline(work, sink.port, args.compression)
        try:
            _log(f"live: driftline {endpoints['otlp_grpc']} → sink :{sink.port}")
            report["driftline_live"] = _window(sink, endpoints["otlp_grpc"], args, proc.pid)
            _log(f"live: {report['driftline_live']}")
        finally:
            _stop(proc)

        sink.stop()  # drain: the destination is down while the load runs
        proc, endpoints = _driftline(work, sink.port, args.compression)
        try:
            _log("drain: destination down, loading the WAL")
            backlog = _load(endpoints["otlp_grpc"], args, args.duration)
            sink.start()
            t0 = time.time()
            last = first = None
            deadline = t0 + 300
            settled = 0
            while time.time() < deadline:
                snap = sink.read()
                if snap["items"] and first is None:
                    first = snap
                if last is not None and snap["items"] == last["items"] and snap["items"]:
                    settled += 1
                    if settled >= 8:  # two seconds without a new span: the backlog is out
                        break
                else:
                    settled = 0
                    last = snap
                time.sleep(0.25)
            assert first is not None and last is not None
            span_s = max(last["t"] - first["t"], 1e-3)
            report["driftline_drain"] = {
                "backlog_acked_spans_per_s": backlog["acked_spans_per_s"],
                "delivered_spans": int(last["items"]),
                "delivered_spans_per_s": round((last["items"] - first["items"]) / span_s),
                "delivered_requests": int(last["requests"]),
            }
            _log(f"drain: {report['driftline_drain']}")
        finally:
            _stop(proc)

        if not args.skip_rotel:
            rotel, target = _rotel(sink.port, args.compression)
            try:
                _log(f"rotel: {target} → sink :{sink.port}")
                report["rotel_live"] = _window(sink, target, args, rotel.pid)
                _log(f"rotel: {report['rotel_live']}")
            finally:
                _stop(rotel)
            ours = report["driftline_live"]["delivered_spans_per_s"]
            theirs = report["rotel_live"]["delivered_spans_per_s"]
            report["ratio_driftline_to_rotel_live"] = round(ours / max(theirs, 1), 2)
    finally:
        sink.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
