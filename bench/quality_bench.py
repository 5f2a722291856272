"""`make bench`: data quality and multivariate drift on the embedded engine.

  quality       20 features (15 numerical, 5 categorical), 1M reference + 1M current
                inferences (40M rows in ml_features): every check of every feature, learned
                thresholds from 10 reference chunks, new/absent categories. Target ≤ 1 s.
  multivariate  the same data, a 100k-inference sample per side (the default): fit the
                reference's PCA, reconstruction error of 10 reference chunks and the current
                window, with and without the domain classifier. Target ≤ 2 s.

A peer is timed on the same machine in the same run where NannyML is installed (it is not a
dependency: `pip install nannyml` into the venv to include it): its MissingValuesCalculator
and UnseenValuesCalculator over the same 1M + 1M rows (pandas, in memory), and its
DataReconstructionDriftCalculator over the same 100k samples. Data is generated in the engine
(INSERT … SELECT FROM numbers()); times are best of 3 after a warm-up. Prints one JSON object.

    python bench/quality_bench.py [--features 20] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import Any

from timing import best_of  # bench/timing.py (scripts run as `python bench/…`)

from driftline.query.quality import (
    MultivariateRequest,
    QualityRequest,
    data_quality,
    multivariate_drift,
)
from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.quality_sql import Scope
from driftline.storage.schema import DdlContext

HOUR = 3600 * 10**9


def load(client: Any, now: int, features: int, rows: int) -> float:
    """Reference: the 24 h before the last hour; current: the last hour, with 5 % of f0
    missing, a new category in the categorical features and f1's sign flipped."""
    f, n = features, rows
    cats = max(f // 4, 1)
    started = time.perf_counter()
    ts = (
        f"toInt64({now} - 1 - if(i < {n}, {HOUR} + cityHash64(i) % (23 * {HOUR}), "
        f"cityHash64(i) % {HOUR}))"
    )
    client.command(
        f"""INSERT INTO ml_inferences (Timestamp, ModelName, ModelVersion, InferenceId)
        SELECT fromUnixTimestamp64Nano({ts}), 'bench', '1', toString(i)
        FROM (SELECT number AS i FROM numbers({2 * n}))""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command(
        f"""INSERT INTO ml_features
        SELECT 'bench', concat('f', toString(k)), fromUnixTimestamp64Nano({ts}), '1',
            if(k >= {f - cats}, 'categorical', 'numerical'),
            if(k >= {f - cats}, nan,
               if(k = 1, if(i < {n}, 1, -1) * x0 + 0.3 * randNormal(0, 1), randNormal(0, 1))),
            if(k >= {f - cats},
               if(i >= {n} AND i % 100 = 0, 'new', toString(cityHash64(i, k) % 10)), '')
        FROM (SELECT intDiv(number, {f}) AS i, number % {f} AS k,
                     (toFloat64(cityHash64(i) % 1000000) / 1000000 - 0.5) * 3.4 AS x0
              FROM numbers({2 * f * n}))
        WHERE NOT (k = 0 AND i >= {n} AND i % 20 = 0)""",
        settings={"max_insert_threads": 2, "max_threads": 2},
    )
    client.command("OPTIMIZE TABLE ml_features FINAL")
    client.command("OPTIMIZE TABLE ml_inferences FINAL")
    return time.perf_counter() - started


def nannyml_peer(client: Any, now: int, rows: int, sample: int) -> dict[str, Any]:
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # it phones home otherwise
    try:
        import nannyml as nml  # type: ignore[import-not-found]
        import pandas as pd
    except ImportError:
        return {"installed": False}
    wide = client.query_df(
        """SELECT Timestamp, groupArray((Feature, Value, Category)) AS cells
        FROM ml_features WHERE ModelName = 'bench' GROUP BY Timestamp ORDER BY Timestamp"""
    )
    records = []
    for t, cells in zip(wide["Timestamp"], wide["cells"], strict=True):
        row: dict[str, Any] = {"timestamp": t}
        for name, value, category in cells:
            row[name] = category if category else value
        records.append(row)
    df = pd.DataFrame.from_records(records)
    cut = pd.Timestamp(now - HOUR, unit="ns")
    reference, analysis = df[df.timestamp < cut], df[df.timestamp >= cut]
    columns = [c for c in df.columns if c != "timestamp"]
    categorical = [c for c in columns if df[c].dtype == object]

    def quality() -> None:
        for calc in (
            nml.MissingValuesCalculator(column_names=columns, chunk_number=1),
            nml.UnseenValuesCalculator(column_names=categorical, chunk_number=1),
        ):
            calc.fit(reference)
            calc.calculate(analysis)

    def reconstruction() -> None:
        calc = nml.DataReconstructionDriftCalculator(column_names=columns, chunk_number=1)
        calc.fit(reference.sample(min(sample, len(reference)), random_state=1))
        calc.calculate(analysis.sample(min(sample, len(analysis)), random_state=1))

    quality_s, _ = best_of(quality, runs=1)
    reconstruction_s, _ = best_of(reconstruction, runs=1)
    return {
        "installed": True,
        "version": nml.__version__,
        "quality_s": round(quality_s, 3),
        "reconstruction_s": round(reconstruction_s, 3),
        "note": "in-memory pandas, excluding the time to build the DataFrame",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000, help="per side")
    parser.add_argument("--sample", type=int, default=100_000, help="multivariate, per side")
    parser.add_argument("--peer", action="store_true", help="also time NannyML if installed")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="driftline-quality-bench-")
    try:
        target = Target(embedded_path=directory)
        client = connect(target)
        migrate(client, DdlContext())
        now = time.time_ns()
        load_s = load(client, now, args.features, args.rows)
        ref, cur = Scope(now - 24 * HOUR, now - HOUR), Scope(now - HOUR, now + 1)
        quality_s, answer = best_of(
            lambda: data_quality(client, "default", QualityRequest("bench", ref, cur))
        )
        window = answer.windows[0]
        mv = MultivariateRequest("bench", ref, cur, max_rows=args.sample)
        mv_s, mv_answer = best_of(lambda: multivariate_drift(client, "default", mv))
        no_clf = MultivariateRequest("bench", ref, cur, max_rows=args.sample, classifier=False)
        reconstruction_s, _ = best_of(lambda: multivariate_drift(client, "default", no_clf))
        result = {
            "machine": "2 cores (shared during the run unless stated)",
            "features": args.features,
            "rows_per_side": args.rows,
            "load_s": round(load_s, 1),
            "quality_s": round(quality_s, 3),
            "quality_target_s": 1.0,
            "flagged_features": list(window.flagged_features),
            "multivariate_s": round(mv_s, 3),
            "multivariate_reconstruction_only_s": round(reconstruction_s, 3),
            "multivariate_target_s": 2.0,
            "multivariate_rows": [mv_answer.reference_rows, mv_answer.windows[0].rows],
            "multivariate_alert": mv_answer.windows[0].error.alert,
            "classifier_auroc": round(mv_answer.windows[0].classifier_auroc, 4),
        }
        if args.peer:
            result["nannyml"] = nannyml_peer(client, now, args.rows, args.sample)
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
