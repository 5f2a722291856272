"""`make bench` part 2: drift and latency answers on the embedded engine.

  drift    20 numerical features, 1M reference + 1M current inferences (40M rows in ml_features,
           current shifted by 0.1σ), the default report: every feature with Evidently's default
           method (normed Wasserstein here) and the dataset verdict. Target ≤ 1 s.
  latency  10M inference spans over 24 h: p50/p90/p95/p99/max by model × minute. Target ≤ 0.5 s.

Data is generated in the engine (INSERT … SELECT FROM numbers()), then each answer is timed
(best of 3, after one warm-up). Prints one JSON object.

    python bench/monitor_bench.py [--features 20] [--rows 1000000] [--spans 10000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace

from timing import best_of  # bench/timing.py (scripts run as `python bench/…`)

from driftline.analysis.drift import DriftRequest, Window
from driftline.query.drift import drift_report
from driftline.query.latency import latency
from driftline.storage.client import Target, connect
from driftline.storage.latency_sql import Range
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext

HOUR = 3600 * 10**9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000, help="per side")
    parser.add_argument("--spans", type=int, default=10_000_000)
    args = parser.parse_args()
    target = Target(embedded_path=tempfile.mkdtemp(prefix="driftline-monitor-bench-"))
    client = connect(target)
    migrate(client, DdlContext())
    now = time.time_ns()
    f, n = args.features, args.rows
    started = time.perf_counter()
    # Reference: the 24 h before the last hour; current: the last hour, shifted by 0.1.
    client.command(
        f"""INSERT INTO ml_features SELECT 'bench', concat('f', toString(number % {f})),
        fromUnixTimestamp64Nano(toInt64({now} - 1 - if(number < {f * n},
            {HOUR} + cityHash64(number) % (23 * {HOUR}), cityHash64(number) % {HOUR}))),
        '1', 'numerical', randNormal(0, 1) + if(number < {f * n}, 0, 0.1), ''
        FROM numbers({2 * f * n})""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command("OPTIMIZE TABLE ml_features FINAL")
    load_drift_s = time.perf_counter() - started
    reference, current = Window(now - 24 * HOUR, now - HOUR), Window(now - HOUR, now + 1)
    request = DriftRequest("bench", reference, current)
    client.command("INSERT INTO ml_inferences (Timestamp, ModelName) VALUES (now64(9), 'bench')")
    drift_s, window = best_of(lambda: drift_report(client, "default", request))
    # the same answer without the plot-only Sturges bins (what `driftline query drift` prints)
    no_plots = replace(request, distributions=False)
    scores_s, _ = best_of(lambda: drift_report(client, "default", no_plots))

    started = time.perf_counter()
    client.command(
        f"""INSERT INTO ml_inferences (Timestamp, ModelName, ModelVersion, Duration, StatusCode)
        SELECT fromUnixTimestamp64Nano(toInt64({now} - cityHash64(number) % (24 * {HOUR}))),
               concat('m', toString(number % 5)), '1',
               toUInt64(exp(randNormal(17, 0.5))), if(number % 50 = 0, 'Error', 'Ok')
        FROM numbers({args.spans})""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command("OPTIMIZE TABLE ml_inferences FINAL")
    load_latency_s = time.perf_counter() - started
    latency_s, rows = best_of(
        lambda: latency(
            client, "default", "", Range(now - 24 * HOUR, now + 1), ["model", "bucket"], 60
        )
    )
    print(json.dumps({
        "drift": {
            "features": f, "reference_rows": n, "current_rows": n,
            "seconds": round(drift_s, 3), "seconds_without_plots": round(scores_s, 3),
            "target_s": 1.0,
            "methods": sorted({x.method for x in window.features}),
            "drifted": window.n_drifted, "load_seconds": round(load_drift_s, 1),
        },
        "latency": {
            "spans": args.spans, "groups": len(rows), "seconds": round(latency_s, 3),
            "target_s": 0.5, "load_seconds": round(load_latency_s, 1),
        },
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
