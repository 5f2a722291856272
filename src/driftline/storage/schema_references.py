"""Saved reference profiles (migration 6): a named, frozen copy of a model's reference data.

    ml_references          one row per save: name, model, version, the time range copied, the
                           snapshot id, row/inference/feature counts. Saving a name again adds a
                           row with a new snapshot; the newest row per (model, name) wins at
                           query time (argMax by CreatedAt), like labels.
    ml_reference_features  the copied rows of ml_features, tagged with their snapshot,
                           ORDER BY (ModelName, Snapshot, Feature, Timestamp): a drift query
                           against a saved reference reads one contiguous range per feature
                           and only one pass over the current window's data.

Why a copy of the values and not only bin edges and quantiles: several of Evidently's methods
(`ks`, `wasserstein`, `anderson`, `cramer_von_mises`, `ed`, `mannw` and the Sturges-binned
distances, whose edges span reference ∪ current) need every reference value to give exactly
Evidently's score. A copy also outlives the TTL of `ml_features`, which is what a reference is
for: the training-time distribution stays, however long ago it was observed. Neither table has
a TTL.
"""

from __future__ import annotations

from driftline.storage.ddl import DdlContext
from driftline.storage.schema_ml import FEATURE_KINDS


def reference_tables(ctx: DdlContext) -> list[str]:
    def table(name: str, columns: str, order_by: str, sharding: str) -> list[str]:
        ddl = f"""CREATE TABLE IF NOT EXISTS {ctx.qualified(ctx.physical(name))}{ctx.on_cluster} (
{columns}
) ENGINE = {ctx.engine(name)}
ORDER BY ({order_by})
{ctx.settings()}"""
        return [ddl, *ctx.distributed(name, sharding)]

    references = """    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    Name String CODEC(ZSTD(1)),
    CreatedAt DateTime64(9) CODEC(Delta, ZSTD(1)),
    Snapshot String CODEC(ZSTD(1)),
    ModelVersion String CODEC(ZSTD(1)),
    StartTime DateTime64(9) CODEC(ZSTD(1)),
    EndTime DateTime64(9) CODEC(ZSTD(1)),
    Rows UInt64 CODEC(ZSTD(1)),
    Inferences UInt64 CODEC(ZSTD(1)),
    Features Array(String) CODEC(ZSTD(1)),
    Description String CODEC(ZSTD(1))"""
    values = f"""    ModelName LowCardinality(String) CODEC(ZSTD(1)),
    Snapshot LowCardinality(String) CODEC(ZSTD(1)),
    Feature LowCardinality(String) CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Kind {FEATURE_KINDS} CODEC(ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Category LowCardinality(String) CODEC(ZSTD(1))"""
    return [
        *table("ml_references", references, "ModelName, Name, CreatedAt", "cityHash64(Name)"),
        *table(
            "ml_reference_features",
            values,
            "ModelName, Snapshot, Feature, Timestamp",
            "cityHash64(Snapshot)",
        ),
    ]
