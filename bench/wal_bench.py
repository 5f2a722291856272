"""WAL micro-benchmark: N threads append fixed-size payloads with sync=always for a while.

    .venv/bin/python bench/wal_bench.py [--threads 8] [--payload-kib 536] [--seconds 5]

Prints one JSON object: MB/s and records/s of durable appends, and the submit→durable latency
(p50/p99, ms) each thread saw. A consumer cursor acks everything it reads so segments are
deleted as in production and the WAL never fills.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from driftline.config.model import WalConfig
from driftline.wal import Wal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--payload-kib", type=int, default=536)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sync", default="always", choices=["always", "interval", "never"])
    parser.add_argument("--dir", default=None, help="WAL directory (default: a fresh temp dir)")
    args = parser.parse_args(argv)

    own_dir = args.dir is None
    directory = args.dir or tempfile.mkdtemp(prefix="wal-bench-")
    config = WalConfig(sync=args.sync, segment_size_mib=64, max_size_mib=4096)
    wal = Wal.open(config, directory, cursors=["bench"])
    payload = os.urandom(args.payload_kib * 1024)
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(args.threads)]

    def produce(i: int) -> None:
        mine = latencies[i]
        while not stop.is_set():
            t0 = time.perf_counter()
            wal.submit(1, payload).result()
            mine.append(time.perf_counter() - t0)

    def consume() -> None:
        while not stop.is_set():
            records = wal.read("bench", 256, 256 << 20, 0.2)
            if records:
                wal.ack("bench", records[0].id, records[-1].id)

    consumer = threading.Thread(target=consume)
    producers = [threading.Thread(target=produce, args=(i,)) for i in range(args.threads)]
    started = time.perf_counter()
    consumer.start()
    for t in producers:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in producers:
        t.join()
    elapsed = time.perf_counter() - started
    consumer.join()
    wal.close()
    if own_dir:
        shutil.rmtree(directory, ignore_errors=True)

    all_lat = sorted(x for lat in latencies for x in lat)
    n = len(all_lat)
    result = {
        "threads": args.threads,
        "payload_bytes": len(payload),
        "sync": args.sync,
        "seconds": round(elapsed, 2),
        "records": n,
        "records_per_s": round(n / elapsed, 1),
        "mb_per_s": round(n * len(payload) / elapsed / 1e6, 1),
        "latency_ms_p50": round(statistics.median(all_lat) * 1e3, 2) if n else None,
        "latency_ms_p99": round(all_lat[min(n - 1, int(n * 0.99))] * 1e3, 2) if n else None,
        "cpus": os.cpu_count(),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
