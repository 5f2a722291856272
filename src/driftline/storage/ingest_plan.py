"""Which INSERTs a signal's batch needs, and which tables it ends up in.

traces   → one INSERT into the span staging table (ingest_staging): its views fill
           otel_traces (→ otel_traces_trace_id_ts), ml_inferences and ml_features
logs     → otel_logs, ml_labels, and the run tables (only payloads holding ml.run.id)
metrics  → the five otel_metrics_* tables
"""

from __future__ import annotations

from driftline.signals import Signal
from driftline.storage.ingest_base import IngestStatement
from driftline.storage.ingest_ml_sql import ml_statements
from driftline.storage.ingest_runs_sql import run_statements
from driftline.storage.ingest_sql import logs_statement, metric_statements
from driftline.storage.ingest_staging import fed_tables, staging_statement


def statements_for(signal: Signal) -> list[IngestStatement]:
    """Every INSERT a payload of `signal` feeds: the OTel tables, then driftline's ML tables."""
    if signal is Signal.TRACES:
        return [staging_statement()]
    if signal is Signal.LOGS:
        return [logs_statement(), *ml_statements(signal), *run_statements()]
    return metric_statements()


def tables_fed(signal: Signal) -> tuple[str, ...]:
    """The tables whose rows a batch of `signal` becomes (what "stored" means end to end)."""
    if signal is Signal.TRACES:
        return fed_tables()
    return tuple(s.table for s in statements_for(signal))
