"""The SQL behind the query API's browsing RPCs: ListModels, GetTrace, SearchLogs.

Each builder returns (statement, parameters). Values are bound as ClickHouse placeholders
(`{name:Type}`), the database too (`{db:Identifier}`, bind.py), never formatted into the text;
optional filters add fixed clause text only.
Statements run through the read-only SQL path (row and time limits, `readonly=1`).
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


def _where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def list_models(database: str, start_ns: int, end_ns: int) -> Statement:
    params = bound(database)
    where = _where(_range_filter("Timestamp", start_ns, end_ns, params))
    return (
        f"""SELECT ModelName AS model, ModelVersion AS version, count() AS inferences,
    min(Timestamp) AS first_seen, max(Timestamp) AS last_seen,
    round(countIf(StatusCode = 'Error') / count(), 6) AS error_rate,
    round(quantileExactInclusive(0.5)(Duration) / 1e6, 3) AS p50_ms,
    round(quantileExactInclusive(0.99)(Duration) / 1e6, 3) AS p99_ms
FROM {table("ml_inferences")}
{where}
GROUP BY ModelName, ModelVersion
ORDER BY ModelName, ModelVersion""",
        params,
    )


def get_trace(database: str, trace_id: str) -> Statement:
    """All spans of a trace, bounded by its time range from the lookup table (the exporter's
    own pattern: otel_traces is ordered by service and time, not trace id)."""
    return (
        f"""WITH (SELECT (min(Start), max(End)) FROM {table("otel_traces_trace_id_ts")}
          WHERE TraceId = {{trace_id:String}}) AS bounds
SELECT Timestamp AS start, SpanId AS span_id, ParentSpanId AS parent_span_id,
    ServiceName AS service, SpanName AS name, SpanKind AS kind,
    round(Duration / 1e6, 3) AS duration_ms, StatusCode AS status, StatusMessage AS message,
    SpanAttributes AS attributes
FROM {table("otel_traces")}
WHERE TraceId = {{trace_id:String}}
  AND Timestamp >= bounds.1 AND Timestamp <= bounds.2 + 1
ORDER BY Timestamp, SpanId""",
        bound(database, trace_id=trace_id.lower()),
    )


def search_logs(
    database: str,
    start_ns: int,
    end_ns: int,
    min_severity: int,
    service: str,
    trace_id: str,
    text: str,
    limit: int,
) -> Statement:
    params = bound(database, limit=limit)
    clauses = _range_filter("Timestamp", start_ns, end_ns, params)
    if min_severity > 0:
        params["min_severity"] = min_severity
        clauses.append("SeverityNumber >= {min_severity:UInt8}")
    if service:
        params["service"] = service
        clauses.append("ServiceName = {service:String}")
    if trace_id:
        params["trace_id"] = trace_id.lower()
        clauses.append("TraceId = {trace_id:String}")
    if text:
        params["text"] = text
        clauses.append("positionCaseInsensitiveUTF8(Body, {text:String}) > 0")
    return (
        f"""SELECT Timestamp AS time, SeverityText AS severity, ServiceName AS service,
    Body AS body, TraceId AS trace_id, SpanId AS span_id, LogAttributes AS attributes
FROM {table("otel_logs")}
{_where(clauses)}
ORDER BY Timestamp DESC
LIMIT {{limit:UInt64}}""",
        params,
    )
