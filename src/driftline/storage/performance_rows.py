"""Runs performance_sql's statement: one `PerformanceSums` per group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from clickhouse_connect.driver.client import Client

from driftline.analysis.performance import PerformanceSums
from driftline.storage import performance_sql
from driftline.storage.latency_sql import Range

_FIGURES = [f for f in fields(PerformanceSums) if f.name != "keys"]


def performance_sums(
    client: Client, database: str, model: str, r: Range, group_by: Sequence[str],
    bucket_s: int, positive: str,
) -> list[PerformanceSums]:  # fmt: skip
    sql, params = performance_sql.performance(
        database, model, r, list(group_by), bucket_s, positive
    )
    result = client.query(sql, parameters=params)
    names = list(result.column_names)
    out = []
    for row in result.result_rows:
        v = dict(zip(names, row, strict=True))
        figures: dict[str, Any] = {
            f.name: (int if f.type in ("int", int) else float)(v[f.name]) for f in _FIGURES
        }
        out.append(PerformanceSums(keys={k: v[k] for k in group_by}, **figures))
    return out
