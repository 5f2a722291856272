"""The SQL behind ConsoleService: SearchInferences (recent inferences of one model).

Same shape as explore_sql (whose range clause it repeats): a builder returns (statement,
parameters), values bound as ClickHouse placeholders, optional filters add fixed clause text
only, run through the read-only path. ml_inferences is ordered by (ModelName, ModelVersion,
Timestamp): one model's range.
"""

from __future__ import annotations

from typing import Any

from driftline.storage.bind import Statement, bound, table


def _range_filter(column: str, start_ns: int, end_ns: int, params: dict[str, Any]) -> list[str]:
    clauses = []
    if start_ns > 0:
        params["start_ns"] = start_ns
        clauses.append(f"{column} >= fromUnixTimestamp64Nano({{start_ns:Int64}})")
    if end_ns > 0:
        params["end_ns"] = end_ns
        clauses.append(f"{column} < fromUnixTimestamp64Nano({{end_ns:Int64}})")
    return clauses


def search_inferences(
    database: str,
    model: str,
    version: str,
    start_ns: int,
    end_ns: int,
    errors_only: bool,
    min_duration_ms: float,
    limit: int,
) -> Statement:
    params: dict[str, Any] = bound(database, model=model, limit=limit)
    clauses = ["ModelName = {model:String}", *_range_filter("Timestamp", start_ns, end_ns, params)]
    if version:
        params["version"] = version
        clauses.append("ModelVersion = {version:String}")
    if errors_only:
        clauses.append("StatusCode = 'Error'")
    if min_duration_ms > 0:
        params["min_duration_ns"] = int(min_duration_ms * 1e6)
        clauses.append("Duration >= {min_duration_ns:UInt64}")
    return (
        f"""SELECT Timestamp AS time, ModelVersion AS version, TraceId AS trace_id,
    SpanId AS span_id, InferenceId AS inference_id, round(Duration / 1e6, 3) AS duration_ms,
    StatusCode AS status,
    if(PredictionClass != '', PredictionClass, if(isNaN(Prediction), '', toString(Prediction)))
    AS prediction, Score AS score
FROM {table("ml_inferences")}
WHERE {" AND ".join(clauses)}
ORDER BY Timestamp DESC
LIMIT {{limit:UInt64}}""",
        params,
    )
