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
from dataclasses import dataclass
from typing import Final

from driftline.config.model import ClickHouseConfig

MIGRATIONS_TABLE: Final = "driftline_schema_migrations"


@dataclass(frozen=True, slots=True)
class DdlContext:
    """Everything that changes the DDL text between deployments."""

    database: str = "default"
    ttl_s: float = 0.0
    cluster_name: str = ""
    engine_name: str = "MergeTree"
    engine_params: str = ""
    dedup_window: int = 1000

    @classmethod
    def from_config(cls, cfg: ClickHouseConfig) -> DdlContext:
        return cls(
            database=cfg.database,
            ttl_s=cfg.ttl_s,
            cluster_name=cfg.cluster_name,
            engine_name=cfg.table_engine.name,
            engine_params=cfg.table_engine.params,
            dedup_window=cfg.dedup_window,
        )

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster_name}`" if self.cluster_name else ""

    def physical(self, table: str) -> str:
        """The table that stores rows: `<table>_local` on a cluster."""
        return f"{table}_local" if self.cluster_name else table

    def engine(self, table: str) -> str:
        if self.cluster_name:
            name = (
                self.engine_name
                if self.engine_name.startswith("Replicated")
                else ("Replicated" + self.engine_name)
            )
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{self.physical(table)}', '{{replica}}'"
            params = f"{path}, {self.engine_params}" if self.engine_params else path
            return f"{name}({params})"
        return f"{self.engine_name}({self.engine_params})"

    def ttl(self, time_expr: str) -> str:
        """`TTL <time> + toInterval<Unit>(n)` with the largest unit dividing the TTL, as the
        exporter's GenerateTTLExpr does; '' when the TTL is 0."""
        seconds = int(self.ttl_s)
        if seconds <= 0:
            return ""
        for unit, size in (("Day", 86400), ("Hour", 3600), ("Minute", 60), ("Second", 1)):
            if seconds % size == 0:
                return f"TTL {time_expr} + toInterval{unit}({seconds // size})"
        raise AssertionError("unreachable")

    def settings(self) -> str:
        dedup = (
            ""
            if self.cluster_name
            else (f", non_replicated_deduplication_window = {self.dedup_window}")
        )
        return f"SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{dedup}"

    def qualified(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"

    def distributed(self, table: str, sharding_key: str) -> list[str]:
        """The Distributed table `table` over `table_local` (cluster mode only)."""
        if not self.cluster_name:
            return []
        return [
            f"CREATE TABLE IF NOT EXISTS {self.qualified(table)}{self.on_cluster} "
            f"AS {self.qualified(self.physical(table))} "
            f"ENGINE = Distributed(`{self.cluster_name}`, `{self.database}`, "
            f"`{self.physical(table)}`, {sharding_key})"
        ]


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


def _ml_tables(ctx: DdlContext) -> list[str]:
    # schema_ml builds on DdlContext from this module: imported here, not at the top.
    from driftline.storage.schema_ml import ml_tables

    return ml_tables(ctx)


def _scan_codecs(ctx: DdlContext) -> list[str]:
    from driftline.storage.schema_ml import ml_features_scan_codecs

    return ml_features_scan_codecs(ctx)


def _reference_tables(ctx: DdlContext) -> list[str]:
    from driftline.storage.schema_references import reference_tables

    return reference_tables(ctx)


def _run_tables(ctx: DdlContext) -> list[str]:
    from driftline.storage.schema_runs import run_tables  # builds on DdlContext, like schema_ml

    return run_tables(ctx)


def _mlflow_tables(ctx: DdlContext) -> list[str]:
    from driftline.storage.schema_runs import mlflow_tables

    return mlflow_tables(ctx)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: Callable[[DdlContext], list[str]]


def _otel_metrics(ctx: DdlContext) -> list[str]:
    return [stmt for kind in METRIC_KINDS for stmt in _metric_table(kind)(ctx)]


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(1, "otel_traces", _traces),
    Migration(2, "otel_traces_trace_id_ts and its materialized view", _trace_id_ts),
    Migration(3, "otel_logs", _logs),
    Migration(4, "otel_metrics_gauge|sum|histogram|exponential_histogram|summary", _otel_metrics),
    Migration(5, "ml_inferences, ml_features, ml_labels", _ml_tables),
    Migration(
        6, "ml_references, ml_reference_features (saved reference profiles)", _reference_tables
    ),
    Migration(7, "ml_runs, ml_run_metrics, ml_run_latest, ml_run_liveness", _run_tables),
    Migration(8, "ml_features: LZ4 codecs for Timestamp and Value (drift scans)", _scan_codecs),
    Migration(13, "ml_experiments, ml_run_inputs (MLflow tracking API)", _mlflow_tables),
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
