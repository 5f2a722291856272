"""Drift report time on the embedded engine: 1M reference + 1M current inferences.

Creates a temporary chDB directory, migrates, loads `ml_features` with INSERT … SELECT from
`numbers()` (N(0,1) reference, N(0.1,1) current; categorical features with 10 levels), then
times a full default drift report (every feature, Evidently's default methods: wasserstein for
numerical, jensenshannon for categorical). One JSON object on stdout.

    python bench/drift_bench.py [--rows 1000000] [--num 20] [--cat 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from driftline.analysis.drift import DriftRequest, Window
from driftline.query.drift import drift_report
from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext

HOUR = 3600 * 10**9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--num", type=int, default=20)
    ap.add_argument("--cat", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    now = time.time_ns()
    ref = Window(now - 4 * HOUR, now - 2 * HOUR)
    cur = Window(now - 2 * HOUR, now)
    with tempfile.TemporaryDirectory() as tmp:
        client = connect(Target(embedded_path=tmp, database="bench"))
        client.command("CREATE DATABASE bench")
        migrate(client, DdlContext(database="bench"))
        t0 = time.perf_counter()
        step = 2 * HOUR // args.rows
        for i in range(args.num + args.cat):
            for start, mu in ((ref.start_ns, 0.0), (cur.start_ns, 0.1)):
                categorical = i >= args.num
                value = "nan" if categorical else f"randNormal({mu}, 1.0)"
                category = (
                    f"toString(toUInt32(abs(randNormal({mu * 10}, 3.0))) % 10)"
                    if categorical
                    else "''"
                )
                client.command(
                    "INSERT INTO bench.ml_features "
                    "(ModelName, Feature, Timestamp, ModelVersion, Kind, Value, Category) "
                    f"SELECT 'm', 'f{i:02d}', fromUnixTimestamp64Nano("
                    f"toInt64({start} + number * {step})), 'v1', "
                    f"'{'categorical' if categorical else 'numerical'}', {value}, {category} "
                    f"FROM numbers({args.rows})"
                )
        client.command("OPTIMIZE TABLE bench.ml_features FINAL")
        load_s = time.perf_counter() - t0
        times = []
        report = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            report = drift_report(client, "bench", DriftRequest("m", ref, cur))
            times.append(time.perf_counter() - t)
        assert report is not None
        lean = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            drift_report(client, "bench", DriftRequest("m", ref, cur, distributions=False))
            lean.append(time.perf_counter() - t)
        print(
            json.dumps(
                {
                    "bench": "drift_report",
                    "rows_ref": args.rows,
                    "rows_cur": args.rows,
                    "features_num": args.num,
                    "features_cat": args.cat,
                    "load": "INSERT ... SELECT randNormal FROM numbers() into ml_features, "
                    "then OPTIMIZE FINAL",
                    "load_s": round(load_s, 2),
                    "report_s_best": round(min(times), 3),
                    "report_s_all": [round(x, 3) for x in times],
                    "report_s_best_without_plot_histograms": round(min(lean), 3),
                    "methods": sorted({f.method for f in report.features}),
                    "n_drifted": report.n_drifted,
                    "dataset_drift": report.dataset_drift,
                }
            )
        )


if __name__ == "__main__":
    main()
