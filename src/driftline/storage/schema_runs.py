"""Run tables (migration 7), laid out so that listing 10k runs never reads a metric history and
reading one run's history is one contiguous range.

    ml_runs          one row per lifecycle event (start, params, tags, artifact, end), a few
                     per run: identity, status, Params/Tags maps, every other `ml.run.*`
                     attribute in `Attributes` (key without the `ml.run.` prefix).
                     ORDER BY (RunId, Timestamp).
    ml_run_metrics   one row per metric point. ORDER BY (RunId, Key, Step, Timestamp): a run's
                     key is one range, already in step order (MLflow's metric table is the
                     join that makes >10k points slow, anchors-ml.md §7).
    ml_run_latest    AggregatingMergeTree per (RunId, Key): argMax(Value, (Step, Timestamp,
                     Value)) — MLflow's "latest" rule — plus min, max, count and the last
                     timestamp. Each insert adds one row per (run, key) of its batch; merges
                     fold them, readers finish with -Merge / GROUP BY.
    ml_run_liveness  AggregatingMergeTree per RunId: the newest timestamp of anything the run
                     sent (heartbeats included, which are stored nowhere else but otel_logs),
                     for CRASHED at query time.

The aggregating tables are `AggregatingMergeTree` (`ReplicatedAggregatingMergeTree` on a cluster)
whatever `table_engine` says.
"""

from __future__ import annotations

from dataclasses import replace

from driftline.storage.ddl import DdlContext

LATEST_STATE_TYPE = "AggregateFunction(argMax, Float64, Tuple(Int64, DateTime64(9), Float64))"


def _aggregating(ctx: DdlContext, table: str) -> str:
    # The configured engine's parameters (a version column, say) do not apply to these tables;
    # the cluster path and replica still do. Queries finish with -Merge/GROUP BY, so answers
    # never depend on background merges having run.
    return replace(ctx, engine_name="AggregatingMergeTree", engine_params="").engine(table)


def run_tables(ctx: DdlContext) -> list[str]:
    def table(
        name: str, columns: str, order_by: str, *, engine: str, partition: str, ttl: str
    ) -> list[str]:
        ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(name))}{ctx.on_cluster} (
{columns}
) ENGINE = {engine}
{partition}
ORDER BY ({order_by})
{ctx.ttl(ttl)}
{ctx.settings()}"""
        return [ddl, *ctx.distributed(name, "cityHash64(RunId)")]

    runs = """    RunId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Event LowCardinality(String) CODEC(ZSTD(1)),
    Experiment LowCardinality(String) CODEC(ZSTD(1)),
    RunName String CODEC(ZSTD(1)),
    UserId LowCardinality(String) CODEC(ZSTD(1)),
    Status LowCardinality(String) CODEC(ZSTD(1)),
    Params Map(String, String) CODEC(ZSTD(1)),
    Tags Map(String, String) CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1))"""
    metrics = """    RunId String CODEC(ZSTD(1)),
    Key LowCardinality(String) CODEC(ZSTD(1)),
    Step Int64 CODEC(Delta, ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1))"""
    latest = f"""    RunId String CODEC(ZSTD(1)),
    Key LowCardinality(String) CODEC(ZSTD(1)),
    Latest {LATEST_STATE_TYPE},
    MinValue SimpleAggregateFunction(min, Float64),
    MaxValue SimpleAggregateFunction(max, Float64),
    Points SimpleAggregateFunction(sum, UInt64),
    LastTimestamp SimpleAggregateFunction(max, DateTime64(9))"""
    liveness = """    RunId String CODEC(ZSTD(1)),
    LastSeen SimpleAggregateFunction(max, DateTime64(9))"""
    month = "PARTITION BY toYYYYMM(Timestamp)"
    return [
        *table(
            "ml_runs", runs, "RunId, Timestamp", engine=ctx.engine("ml_runs"),
            partition=month, ttl="toDateTime(Timestamp)",
        ),
        *table(
            "ml_run_metrics", metrics, "RunId, Key, Step, Timestamp",
            engine=ctx.engine("ml_run_metrics"), partition=month, ttl="toDateTime(Timestamp)",
        ),
        *table(
            "ml_run_latest", latest, "RunId, Key", engine=_aggregating(ctx, "ml_run_latest"),
            partition="", ttl="toDateTime(LastTimestamp)",
        ),
        *table(
            "ml_run_liveness", liveness, "RunId", engine=_aggregating(ctx, "ml_run_liveness"),
            partition="", ttl="toDateTime(LastSeen)",
        ),
    ]  # fmt: skip


def mlflow_tables(ctx: DdlContext) -> list[str]:
    """Migration 13: what MLflow's tracking API records beside the run tables.

    ml_experiments   one row per experiment event (create, rename, delete, restore, tags,
                     tags_delete): folded per ExperimentId at query time like ml_runs.
                     ORDER BY (ExperimentId, Timestamp).
    ml_run_inputs    one row per dataset input a run logged (LogInputs): MLflow's Dataset
                     fields and the input's tags (mlflow.data.context). ORDER BY (RunId, Name).
    """

    def table(name: str, columns: str, order_by: str, shard_key: str, ttl: str) -> list[str]:
        ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(name))}{ctx.on_cluster} (
{columns}
) ENGINE = {ctx.engine(name)}
ORDER BY ({order_by})
{ctx.ttl(ttl)}
{ctx.settings()}"""
        return [ddl, *ctx.distributed(name, shard_key)]

    experiments = """    ExperimentId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Event LowCardinality(String) CODEC(ZSTD(1)),
    Name String CODEC(ZSTD(1)),
    ArtifactLocation String CODEC(ZSTD(1)),
    Tags Map(String, String) CODEC(ZSTD(1))"""
    inputs = """    RunId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Name String CODEC(ZSTD(1)),
    Digest String CODEC(ZSTD(1)),
    SourceType LowCardinality(String) CODEC(ZSTD(1)),
    Source String CODEC(ZSTD(1)),
    Schema String CODEC(ZSTD(1)),
    Profile String CODEC(ZSTD(1)),
    Tags Map(String, String) CODEC(ZSTD(1))"""
    return [
        *table(
            "ml_experiments", experiments, "ExperimentId, Timestamp", "cityHash64(ExperimentId)",
            "toDateTime(Timestamp)",
        ),
        *table("ml_run_inputs", inputs, "RunId, Name, Timestamp", "cityHash64(RunId)",
               "toDateTime(Timestamp)"),
    ]  # fmt: skip
