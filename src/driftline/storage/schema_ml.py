"""driftline's own ML tables, laid out for columnar scans per model and feature.

    ml_inferences  one row per inference span: identity, latency, status, prediction, score.
                   ORDER BY (ModelName, ModelVersion, Timestamp): latency and performance
                   questions read one model's time range and a few narrow columns.
    ml_features    one row per (inference, feature): long ("narrow") layout,
                   ORDER BY (ModelName, Feature, Timestamp). A drift query over 20 features
                   reads 20 contiguous ranges of one Float64 (or one LowCardinality) column and
                   groups by Feature; a wide Map column would make every feature scan read
                   every other feature's values too. Predictions, scores and token counts are
                   stored here as well (Feature = the attribute key), so prediction drift is the
                   same query as feature drift.
    ml_labels      ground truth, arriving later (OTLP log events or the RecordLabels RPC);
                   the latest label per inference id wins at query time (argMax by Timestamp).

Numerical values (int, double, bool as 0/1) go to `Value`; strings to `Category` (and `Value`
is NaN). `Kind` records which, so type inference never guesses from text.
"""

from __future__ import annotations

from typing import Final

from driftline.storage.ddl import DdlContext

FEATURE_KINDS: Final = "Enum8('numerical' = 1, 'categorical' = 2)"


def ml_tables(ctx: DdlContext) -> list[str]:
    def table(name: str, columns: str, order_by: str, time_col: str, sharding: str) -> list[str]:
        ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(name))}{ctx.on_cluster} (
{columns}
) ENGINE = {ctx.engine(name)}
PARTITION BY toDate({time_col})
ORDER BY ({order_by})
{ctx.ttl(f"toDateTime({time_col})")}
{ctx.settings()}"""
        return [ddl, *ctx.distributed(name, sharding)]

    inferences = """    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    ModelVersion LowCardinality(String) CODEC(ZSTD(1)),
    InferenceId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    Prediction Float64 CODEC(ZSTD(1)),
    PredictionClass LowCardinality(String) CODEC(ZSTD(1)),
    Score Float64 CODEC(ZSTD(1)),
    INDEX idx_inference_id InferenceId TYPE bloom_filter(0.001) GRANULARITY 1"""
    features = f"""    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    Feature LowCardinality(String) CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ModelVersion LowCardinality(String) CODEC(ZSTD(1)),
    Kind {FEATURE_KINDS} CODEC(ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Category LowCardinality(String) CODEC(ZSTD(1))"""
    labels = """    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    InferenceId String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Label Float64 CODEC(ZSTD(1)),
    LabelClass LowCardinality(String) CODEC(ZSTD(1)),
    Source LowCardinality(String) CODEC(ZSTD(1))"""
    return [
        *table(
            "ml_inferences",
            inferences,
            "ModelName, ModelVersion, Timestamp",
            "Timestamp",
            "cityHash64(InferenceId)",
        ),
        *table("ml_features", features, "ModelName, Feature, Timestamp", "Timestamp", "rand()"),
        *table(
            "ml_labels", labels, "ModelName, InferenceId", "Timestamp", "cityHash64(InferenceId)"
        ),
    ]


def ml_features_scan_codecs(ctx: DdlContext) -> list[str]:
    """Migration 8: LZ4 instead of ZSTD(1) for the two columns every drift scan decodes.

    A 20-feature report over 2M inferences decodes 40M timestamps and 40M values; measured on
    the embedded engine, LZ4 takes about 0.6x ZSTD's CPU time for them (Delta+LZ4 for the
    sorted timestamps still compresses them well; model inputs rarely compress much anyway).
    The change applies to parts written from now on and to older ones as they merge."""
    table = ctx.qualified(ctx.physical("ml_features"))
    return [
        f"ALTER TABLE {table}{ctx.on_cluster} "
        "MODIFY COLUMN Timestamp DateTime64(9) CODEC(Delta, LZ4), "
        "MODIFY COLUMN Value Float64 CODEC(LZ4)"
    ]
