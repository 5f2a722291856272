"""INSERT … SELECT statements that fill the run tables from raw OTLP log payloads.

They run beside `otel_logs` and `ml_labels` (ingest_ml_sql) on every logs batch, with the
same per-table dedup tokens (`<wal range>:<table>`), so a run event is stored exactly once.
Log records are run events when their event name (the field, or an `event.name` attribute)
is one of `semconv.ML_RUN_EVENTS` and they carry `ml.run.id` (docs/conventions.md):

    ml.run.start|params|tags|artifact|end  → ml_runs         (one row each)
    ml.run.metrics                         → ml_run_metrics  (one row per ml.run.metric.*)
                                           → ml_run_latest   (a row per run and key)
    any record with ml.run.id              → ml_run_liveness (a row per run)

Only payloads containing the bytes `ml.run.id` reach these statements
(`IngestStatement.requires`), so ordinary logs cost nothing extra. The GROUP BYs run with the
inserter's one thread, so a replayed batch yields the same rows (and the token, not the
content, identifies the block anyway).
"""

from __future__ import annotations

from typing import Final

from driftline import semconv
from driftline.signals import Signal
from driftline.storage.ingest_base import (
    LOG_JOINS,
    IngestStatement,
    as_number,
    as_text,
    attr,
    literal,
)
from driftline.storage.ingest_mlflow_sql import mlflow_statements
from driftline.storage.ingest_runs_base import (
    RECORD_TIME,
    REQUIRES,
    RUN_LOGS_STRUCTURE,
    event,
    prefixed_map,
    run_id,
)

_LIFECYCLE: Final = (
    semconv.ML_RUN_START,
    semconv.ML_RUN_PARAMS,
    semconv.ML_RUN_TAGS,
    semconv.ML_RUN_ARTIFACT,
    semconv.ML_RUN_END,
    *semconv.ML_RUN_MLFLOW_EVENTS,  # written by driftline.mlflow: update, delete, restore, …
)
# Attributes with a column of their own, or a map of their own: not repeated in `Attributes`.
_OWN_COLUMN: Final = (
    semconv.ML_RUN_ID,
    semconv.ML_RUN_EXPERIMENT,
    semconv.ML_RUN_NAME,
    semconv.ML_RUN_USER,
    semconv.ML_RUN_STATUS,
)
_OWN_PREFIXES: Final = (
    semconv.ML_RUN_PARAM_PREFIX,
    semconv.ML_RUN_TAG_PREFIX,
    semconv.ML_RUN_METRIC_PREFIX,
)


def _other_attributes() -> str:
    own = ", ".join(literal(k) for k in _OWN_COLUMN)
    prefixes = " OR ".join(f"startsWith(kv.key, {literal(p)})" for p in _OWN_PREFIXES)
    picked = (
        f"arrayFilter(kv -> startsWith(kv.key, {literal(semconv.ML_RUN_PREFIX)}) "
        f"AND kv.key NOT IN ({own}) AND NOT ({prefixes}), r.attributes)"
    )
    cut = len(semconv.ML_RUN_PREFIX) + 1
    return (
        f"mapFromArrays(arrayMap(kv -> substring(kv.key, {cut}), {picked}), "
        f"arrayMap(kv -> {as_text('kv.value')}, {picked}))"
    )


def _attr_text(key: str) -> str:
    return as_text(attr("r.attributes", key))


def runs_statement(table: str = "ml_runs") -> IngestStatement:
    events = ", ".join(literal(e) for e in _LIFECYCLE)
    cut = len(semconv.ML_RUN_PREFIX) + 1
    exprs = [
        ("RunId", "_run"),
        ("Timestamp", RECORD_TIME),
        ("Event", f"substring(_ev, {cut})"),
        ("Experiment", _attr_text(semconv.ML_RUN_EXPERIMENT)),
        ("RunName", _attr_text(semconv.ML_RUN_NAME)),
        ("UserId", _attr_text(semconv.ML_RUN_USER)),
        ("Status", _attr_text(semconv.ML_RUN_STATUS)),
        ("Params", prefixed_map(semconv.ML_RUN_PARAM_PREFIX)),
        ("Tags", prefixed_map(semconv.ML_RUN_TAG_PREFIX)),
        ("Attributes", _other_attributes()),
        (
            "ServiceName",
            as_text(attr("rl.resource.attributes", semconv.SERVICE_NAME)),
        ),
    ]
    body = ",\n  ".join(f"{e} AS `{c}`" for c, e in exprs)
    select = (
        f"WITH {event()} AS _ev, {run_id()} AS _run\nSELECT {body}\nFROM {{source}}\n"
        f"{LOG_JOINS}\nWHERE _run != '' AND _ev IN ({events})"
    )
    return IngestStatement(
        Signal.LOGS, table, tuple(c for c, _ in exprs), select, RUN_LOGS_STRUCTURE, REQUIRES
    )


def _metric_points() -> str:
    """(RunId, Key, Step, Timestamp, Value) of every ml.run.metric.* attribute of the batch."""
    prefix = semconv.ML_RUN_METRIC_PREFIX
    step = attr("r.attributes", semconv.ML_RUN_STEP)
    step_expr = (
        f"multiIf({step}.int_value IS NOT NULL, {step}.int_value, "
        f"{step}.double_value IS NOT NULL, toInt64({step}.double_value), "
        f"{step}.string_value IS NOT NULL, toInt64OrZero({step}.string_value), toInt64(0))"
    )
    numeric = (
        "a.value.double_value IS NOT NULL OR a.value.int_value IS NOT NULL "
        "OR a.value.bool_value IS NOT NULL"
    )
    joins = LOG_JOINS.replace("\n", "\n  ")
    # Two steps, as for ml_features: records shrink to their metric attributes first, and only
    # those are joined out to one row per point.
    # assumeNotNull: the Nullable members make the expressions Nullable, and the latest
    # state's type must be exactly argMax(Float64, Tuple(Int64, DateTime64(9), Float64)).
    return f"""SELECT _run AS RunId, substring(a.key, {len(prefix) + 1}) AS Key, _step AS Step,
  _ts AS Timestamp, assumeNotNull({as_number("a.value")}) AS Value
FROM (
  WITH {event()} AS _ev, {run_id()} AS _r
  SELECT _r AS _run, assumeNotNull({step_expr}) AS _step, {RECORD_TIME} AS _ts,
    arrayFilter(kv -> startsWith(kv.key, {literal(prefix)}) AND length(kv.key) > {len(prefix)},
                r.attributes) AS _points
  FROM {{source}}
  {joins}
  WHERE _r != '' AND _ev = {literal(semconv.ML_RUN_METRICS)} AND notEmpty(_points)
)
ARRAY JOIN _points AS a
WHERE {numeric}"""


def metrics_statement(table: str = "ml_run_metrics") -> IngestStatement:
    columns = ("RunId", "Key", "Step", "Timestamp", "Value")
    return IngestStatement(
        Signal.LOGS, table, columns, _metric_points(), RUN_LOGS_STRUCTURE, REQUIRES
    )


def latest_statement(table: str = "ml_run_latest") -> IngestStatement:
    columns = ("RunId", "Key", "Latest", "MinValue", "MaxValue", "Points", "LastTimestamp")
    select = f"""SELECT RunId, Key, argMaxState(Value, (Step, Timestamp, Value)) AS Latest,
  min(Value) AS MinValue, max(Value) AS MaxValue, count() AS Points,
  max(Timestamp) AS LastTimestamp
FROM ({_metric_points()})
GROUP BY RunId, Key"""
    return IngestStatement(Signal.LOGS, table, columns, select, RUN_LOGS_STRUCTURE, REQUIRES)


def liveness_statement(table: str = "ml_run_liveness") -> IngestStatement:
    joins = LOG_JOINS.replace("\n", "\n  ")
    select = f"""SELECT _run AS RunId, max(_ts) AS LastSeen
FROM (
  SELECT {run_id()} AS _run, {RECORD_TIME} AS _ts
  FROM {{source}}
  {joins}
  WHERE _run != ''
)
GROUP BY RunId"""
    return IngestStatement(
        Signal.LOGS, table, ("RunId", "LastSeen"), select, RUN_LOGS_STRUCTURE, REQUIRES
    )


def run_statements() -> list[IngestStatement]:
    return [
        runs_statement(), metrics_statement(), latest_statement(), liveness_statement(),
        *mlflow_statements(),
    ]  # fmt: skip
