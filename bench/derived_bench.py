"""`make bench` part: one derived-signal round on the embedded engine.

  --models models × 2 versions, each with --features numerical features (--rows values per
  side and version: reference in the 24 h before the last hour, current in the last hour,
  shifted by 0.1σ) and --spans inferences over the last 5 minutes, one SLO per model.
  A round = discover models, latency of every version, drift of every version, burn rates,
  encode. Timed best of 3 after one warm-up; the WAL submit is a no-op here (an append).
Prints one JSON object.

    python bench/derived_bench.py [--models 10] [--features 10] [--rows 20000] [--spans 100000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from driftline.config.derived import DerivedConfig
from driftline.config.model import SloConfig
from driftline.export.derived import DerivedSignals
from driftline.export.derived.series import series
from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext

HOUR = 3600 * 10**9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000, help="per side, model and version")
    parser.add_argument("--spans", type=int, default=100_000, help="per model")
    args = parser.parse_args()
    target = Target(embedded_path=tempfile.mkdtemp(prefix="driftline-derived-bench-"))
    client = connect(target)
    migrate(client, DdlContext())
    now = time.time_ns()
    m, f, n = args.models, args.features, args.rows
    per_model = 2 * 2 * f * n  # versions * sides * features * rows
    started = time.perf_counter()
    client.command(
        f"""INSERT INTO ml_features SELECT
            concat('m', toString(intDiv(number, {per_model}))),
            concat('f', toString(number % {f})),
            fromUnixTimestamp64Nano(toInt64({now} - 1 - if(number % {per_model} < {per_model // 2},
                {HOUR} + cityHash64(number) % (23 * {HOUR}), cityHash64(number) % {HOUR}))),
            toString(1 + intDiv(number, {f}) % 2), 'numerical',
            randNormal(0, 1) + if(number % {per_model} < {per_model // 2}, 0, 0.1), ''
        FROM numbers({m * per_model})""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command(
        f"""INSERT INTO ml_inferences (Timestamp, ModelName, ModelVersion, Duration, StatusCode)
        SELECT fromUnixTimestamp64Nano(toInt64({now} - 1 - cityHash64(number) % {290 * 10**9})),
               concat('m', toString(number % {m})), toString(1 + intDiv(number, {m}) % 2),
               toUInt64(exp(randNormal(17, 0.5))), if(number % 50 = 0, 'Error', 'Ok')
        FROM numbers({m * args.spans})""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command("OPTIMIZE TABLE ml_features FINAL")
    client.command("OPTIMIZE TABLE ml_inferences FINAL")
    load_s = time.perf_counter() - started

    payloads: list[bytes] = []
    signals = DerivedSignals(
        DerivedConfig(enabled=True),
        lambda: connect(target),
        "default",
        payloads.append,
        slos=[SloConfig(model=f"m{i}", latency_s=0.03) for i in range(m)],
        clock_ns=lambda: now,
    )
    signals.tick()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        snapshot = signals.tick()
        best = min(best, time.perf_counter() - t0)
    n_series = sum(len(points) for points in series(snapshot).values())
    print(
        json.dumps(
            {
                "models": m, "versions": 2 * m, "features": f,
                "feature_rows": m * per_model, "inference_rows": m * args.spans,
                "load_s": round(load_s, 2), "round_s": round(best, 3),
                "series": n_series, "payload_bytes": len(payloads[-1]),
                "drift_computed": sum(x.drift is not None for x in snapshot.models),
            }
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
