"""Decode a trace batch once: one INSERT into a `Null`-engine staging table, views fan it out.

    INSERT INTO driftline_spans_ingest (rs, ss, s)          ← the only Protobuf decode
    SELECT (rs.resource, rs.schema_url), (ss.scope, ss.schema_url), s
    FROM <batch> ARRAY JOIN resource_spans AS rs, rs.scope_spans AS ss, ss.spans AS s
        │  (the Null engine stores nothing; each block goes to the views)
        ├─ driftline_spans_ingest_otel_traces_mv   → otel_traces ─→ otel_traces_trace_id_ts_mv
        ├─ driftline_spans_ingest_ml_inferences_mv → ml_inferences
        └─ driftline_spans_ingest_ml_features_mv   → ml_features

The staging row keeps the decoded resource, scope and span tuples under the names the
per-table SELECTs already use (`rs`, `ss`, `s`), so each view is exactly the statement that
used to read the Protobuf itself, minus the ARRAY JOINs: one decode instead of three, and the
ML views still see attribute *types* (the exporter's string map has lost them).

Exactly-once: the INSERT carries `insert_deduplication_token`, and with
`deduplicate_blocks_in_dependent_materialized_views` every view target deduplicates its own
block under a token derived from it (chDB 26.9, verified by tests/integration and the crash
test). A replay after a crash that hit between two views therefore fills only the tables that
missed the block. The views are total functions of the decoded tuples (no conversion can
throw), so a refused batch is refused by the decode, before any view wrote.
"""

from __future__ import annotations

from typing import Final

from driftline.signals import Signal
from driftline.storage.ingest_base import SPAN_JOINS, IngestStatement
from driftline.storage.ingest_ml_sql import features_statement, inferences_statement
from driftline.storage.ingest_sql import RESOURCE_T, SCOPE_T, SPAN_T, traces_statement

SPANS_STAGING: Final = "driftline_spans_ingest"
STAGING_COLUMNS: Final = (
    ("rs", f"Tuple(resource {RESOURCE_T}, schema_url String)"),
    ("ss", f"Tuple(scope {SCOPE_T}, schema_url String)"),
    ("s", SPAN_T),
)


def span_views() -> list[IngestStatement]:
    """The per-table SELECTs over staging rows (`{source}` = the staging table)."""
    return [
        traces_statement(joins=""),
        inferences_statement(joins=""),
        features_statement(joins=""),
    ]


def staging_statement() -> IngestStatement:
    """The one INSERT a trace batch needs: decode, flatten to spans, hand to the views."""
    select = (
        "SELECT (rs.resource, rs.schema_url) AS `_rs`, (ss.scope, ss.schema_url) AS `_ss`, "
        f"s AS `_s`\nFROM {{source}}\n{SPAN_JOINS}"
    )
    return IngestStatement(Signal.TRACES, SPANS_STAGING, ("rs", "ss", "s"), select)


def view_name(table: str) -> str:
    return f"{SPANS_STAGING}_{table}_mv"


def fed_tables() -> tuple[str, ...]:
    """Every table a trace batch ends up in (the trace-id view's target included)."""
    return (*(v.table for v in span_views()), "otel_traces_trace_id_ts")
