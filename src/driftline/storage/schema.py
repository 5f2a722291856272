"""DDL as numbered migrations. The OTel tables copy the contrib clickhouseexporter's names,
columns and types (see reference/anchors-collector.md §1) so Grafana's ClickHouse plugin reads
them unchanged; driftline only adds `non_replicated_deduplication_window` (exactly-once replays).

Single node: `MergeTree()` (or `table_engine`) tables named as the exporter names them.
Cluster (`cluster_name`): every statement gets `ON CLUSTER`, data lives in `<name>_local`
tables with a `Replicated*` engine, and `<name>` becomes a `Distributed` table over them, so
readers (Grafana, our queries) keep using the exporter's names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from driftline.storage.ddl import DdlContext, Migration
from driftline.storage.schema_ml import ml_features_scan_codecs, ml_tables
from driftline.storage.schema_references import reference_tables
from driftline.storage.schema_runs import mlflow_tables, run_tables
from driftline.storage.schema_staging import span_staging

__all__ = [
    "MIGRATIONS",
    "MIGRATIONS_TABLE",
    "DdlContext",
    "Migration",
    "all_statements",
    "migrations_table_ddl",
]

MIGRATIONS_TABLE: Final = "driftline_schema_migrations"


_ATTR_MAP: Final = "Map(LowCardinality(String), String) CODEC(ZSTD(1))"


def _traces(ctx: DdlContext) -> list[str]:
    t = "otel_traces"
    ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(t))}{ctx.on_cluster} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_ATTR_MAP},
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {_ATTR_MAP},
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = {ctx.engine(t)}
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
{ctx.ttl("toDateTime(Timestamp)")}
{ctx.settings()}"""
    return [ddl, *ctx.distributed(t, "cityHash64(TraceId)")]


def _trace_id_ts(ctx: DdlContext) -> list[str]:
    t = "otel_traces_trace_id_ts"
    table = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(t))}{ctx.on_cluster} (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {ctx.engine(t)}
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
{ctx.ttl("toDateTime(Start)")}
{ctx.settings()}"""
    mv = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {ctx.qualified(ctx.physical(t) + "_mv")}{ctx.on_cluster}
TO {ctx.qualified(ctx.physical(t))}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {ctx.qualified(ctx.physical("otel_traces"))}
WHERE TraceId != ''
GROUP BY TraceId"""
    return [table, mv, *ctx.distributed(t, "cityHash64(TraceId)")]


def _trace_id_ts_aggregating(ctx: DdlContext) -> list[str]:
    """The exporter's current lookup table: one row per TraceId after merges, Start/End kept
    as SimpleAggregateFunction(min/max). Rebuilt in place, each step safe to re-run after a
    kill: the copy is idempotent (min/max of a repeated row), a missing old table is
    recreated empty, and the new one is renamed only after the old one is gone."""
    t = "otel_traces_trace_id_ts"
    physical, staging = ctx.physical(t), ctx.physical(t) + "_v10"
    name = "AggregatingMergeTree"
    if ctx.cluster_name:
        path = f"'/clickhouse/tables/{{shard}}/{ctx.database}/{physical}', '{{replica}}'"
        engine = f"Replicated{name}({path})"
    else:
        engine = f"{name}()"
    create = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(staging)}{ctx.on_cluster} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(Delta, ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {engine}
PARTITION BY toDate(Start)
ORDER BY (TraceId)
{ctx.ttl("toDateTime(Start)")}
{ctx.settings()}"""
    mv = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {ctx.qualified(physical + "_mv")}{ctx.on_cluster}
TO {ctx.qualified(physical)}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {ctx.qualified(ctx.physical("otel_traces"))}
WHERE TraceId != ''
GROUP BY TraceId"""
    old_table = _trace_id_ts(ctx)[0]
    return [
        f"DROP VIEW IF EXISTS {ctx.qualified(physical + '_mv')}{ctx.on_cluster}",
        create,
        old_table,
        f"INSERT INTO {ctx.qualified(staging)} SELECT TraceId, Start, End "
        f"FROM {ctx.qualified(physical)}",
        f"DROP TABLE {ctx.qualified(physical)}{ctx.on_cluster} SYNC",
        f"RENAME TABLE {ctx.qualified(staging)} TO {ctx.qualified(physical)}{ctx.on_cluster}",
        mv,
    ]


def _logs(ctx: DdlContext) -> list[str]:
    t = "otel_logs"
    ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(t))}{ctx.on_cluster} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_ATTR_MAP},
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes {_ATTR_MAP},
    LogAttributes {_ATTR_MAP},
    EventName String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = {ctx.engine(t)}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
{ctx.ttl("toDateTime(Timestamp)")}
{ctx.settings()}"""
    return [ddl, *ctx.distributed(t, "rand()")]


_METRIC_PREFIX_COLUMNS: Final = f"""    ResourceAttributes {_ATTR_MAP},
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {_ATTR_MAP},
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {_ATTR_MAP},
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),"""

_EXEMPLARS: Final = """    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),"""

_METRIC_INDEXES: Final = """    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1"""

_METRIC_SPECIFIC: Final = {
    "gauge": f"""    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
{_EXEMPLARS}""",
    "sum": f"""    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
{_EXEMPLARS}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),""",
    "histogram": f"""    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
{_EXEMPLARS}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),""",
    "exponential_histogram": f"""    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
{_EXEMPLARS}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),""",
    "summary": """    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested(
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),""",
}

METRIC_KINDS: Final = tuple(_METRIC_SPECIFIC)


def _metric_table(kind: str) -> Callable[[DdlContext], list[str]]:
    def ddl(ctx: DdlContext) -> list[str]:
        t = f"otel_metrics_{kind}"
        create = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(t))}{ctx.on_cluster} (
{_METRIC_PREFIX_COLUMNS}
{_METRIC_SPECIFIC[kind]}
{_METRIC_INDEXES}
) ENGINE = {ctx.engine(t)}
{ctx.ttl("toDateTime(TimeUnix)")}
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
{ctx.settings()}"""
        return [create, *ctx.distributed(t, "rand()")]

    return ddl


def _otel_metrics(ctx: DdlContext) -> list[str]:
    return [stmt for kind in METRIC_KINDS for stmt in _metric_table(kind)(ctx)]


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "otel_traces", _traces),
    Migration(2, "otel_traces_trace_id_ts and its materialized view", _trace_id_ts),
    Migration(3, "otel_logs", _logs),
    Migration(4, "otel_metrics_gauge|sum|histogram|exponential_histogram|summary", _otel_metrics),
    Migration(5, "ml_inferences, ml_features, ml_labels", ml_tables),
    Migration(
        6, "ml_references, ml_reference_features (saved reference profiles)", reference_tables
    ),
    Migration(7, "ml_runs, ml_run_metrics, ml_run_latest, ml_run_liveness", run_tables),
    Migration(
        8, "ml_features: LZ4 codecs for Timestamp and Value (drift scans)", ml_features_scan_codecs
    ),
    Migration(
        9, "decode spans once: Null staging table + views into otel_traces, ML tables", span_staging
    ),
    Migration(
        10,
        "otel_traces_trace_id_ts: AggregatingMergeTree by TraceId (exporter's current)",
        _trace_id_ts_aggregating,
    ),
    Migration(13, "ml_experiments, ml_run_inputs (MLflow tracking API)", mlflow_tables),
)


def migrations_table_ddl(ctx: DdlContext) -> str:
    engine = "ReplicatedMergeTree" if ctx.cluster_name else "MergeTree"
    params = (
        f"'/clickhouse/tables/{{shard}}/{ctx.database}/{MIGRATIONS_TABLE}', '{{replica}}'"
        if ctx.cluster_name
        else ""
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {ctx.qualified(MIGRATIONS_TABLE)}{ctx.on_cluster} "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        f"ENGINE = {engine}({params}) ORDER BY version"
    )


def all_statements(ctx: DdlContext) -> list[str]:
    """Every DDL statement in order (for `driftline schema print` and the cluster tests)."""
    return [migrations_table_ddl(ctx)] + [s for m in MIGRATIONS for s in m.statements(ctx)]
