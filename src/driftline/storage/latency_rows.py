"""Runs latency_sql's statements: typed rows for query/latency.py (and performance, drift)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from clickhouse_connect.driver.client import Client

from driftline.analysis.latency import EXACT_MAX_N, LatencyRow, VersionSamples
from driftline.storage import latency_sql
from driftline.storage.latency_sql import Range


def model_exists(client: Client, database: str, model: str) -> bool:
    sql, params = latency_sql.model_exists(database, model)
    return bool(client.query(sql, parameters=params).result_rows[0][0])


def latency_rows(
    client: Client, database: str, model: str, r: Range, group_by: Sequence[str], bucket_s: int
) -> list[LatencyRow]:
    sql, params = latency_sql.latency(database, model, r, list(group_by), bucket_s)
    result = client.query(sql, parameters=params)
    names = list(result.column_names)
    rows = []
    for row in result.result_rows:
        values = dict(zip(names, row, strict=True))
        p50, p90, p95, p99 = (float(x) / 1e6 for x in values["q"])
        rows.append(
            LatencyRow(
                keys={k: values[k] for k in group_by},
                count=int(values["n"]),
                error_rate=float(values["error_rate"]),
                p50_ms=p50,
                p90_ms=p90,
                p95_ms=p95,
                p99_ms=p99,
                max_ms=float(values["max_ns"]) / 1e6,
            )
        )
    return rows


def burn_counts(
    client: Client, database: str, model: str, version: str, threshold_ns: int, now_ns: int,
    windows_s: list[int],
) -> tuple[dict[int, int], dict[int, int]]:  # fmt: skip
    """(total, bad) inference counts per window length ending at `now_ns`."""
    sql, params = latency_sql.burn_rates(database, model, version, threshold_ns, now_ns, windows_s)
    total, bad = client.query(sql, parameters=params).result_rows[0]
    return (
        {w: int(t) for w, t in zip(windows_s, total, strict=True)},
        {w: int(b) for w, b in zip(windows_s, bad, strict=True)},
    )


def version_samples(
    client: Client, database: str, model: str, r: Range, baseline: str, candidate: str
) -> VersionSamples:
    """The U test's figures; both samples' values too when a side is small enough for scipy's
    exact path."""
    sql, params = latency_sql.version_regression(database, model, r, baseline, candidate)
    n_b, n_c, q_b, q_c, mw, ties = client.query(sql, parameters=params).result_rows[0]
    u = mw["u_statistic"] if isinstance(mw, dict) else mw[0]
    values = None
    if 0 < min(int(n_b), int(n_c)) <= EXACT_MAX_N:
        sql, params = latency_sql.version_durations(database, model, r, baseline, candidate)
        mat = np.asarray(client.query_np(sql, parameters=params), dtype=np.float64)
        mat = mat.reshape(-1, 2)
        values = (mat[mat[:, 0] == 0, 1], mat[mat[:, 0] == 1, 1])
    return VersionSamples(
        int(n_b), int(n_c), (float(q_b[0]), float(q_b[1])), (float(q_c[0]), float(q_c[1])),
        float(u), float(ties or 0.0), values,
    )  # fmt: skip
