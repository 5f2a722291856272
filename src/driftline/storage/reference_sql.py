"""The SQL behind saved reference profiles (tables in schema_references.py).

Saving is two statements run by the engine alone — the rows never pass through Python:

    copy     INSERT INTO ml_reference_features SELECT … FROM ml_features WHERE <model, version,
             range, features>, tagged with a fresh snapshot id
    record   INSERT INTO ml_references SELECT <name, counts of the copy> FROM
             ml_reference_features WHERE Snapshot = <id>   (counts of what was really copied)

The record is written after the copy, so a reference that is listed always has its rows; a
crash between the two leaves an unlisted snapshot that nothing reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftline.storage.bind import Statement, bound, table


def copy_rows(
    database: str,
    model: str,
    version: str,
    start_ns: int,
    end_ns: int,
    features: Sequence[str],
    snapshot: str,
) -> Statement:
    params = bound(database, model=model, snapshot=snapshot, start=start_ns, end=end_ns)
    cond = ""
    if version:
        params["version"] = version
        cond += " AND ModelVersion = {version:String}"
    if features:
        params["features"] = list(features)
        cond += " AND Feature IN {features:Array(String)}"
    sql = f"""INSERT INTO {table("ml_reference_features")}
    (ModelName, Snapshot, Feature, Timestamp, Kind, Value, Category)
SELECT ModelName, {{snapshot:String}}, Feature, Timestamp, Kind, Value, Category
FROM {table("ml_features")}
WHERE ModelName = {{model:String}}
  AND Timestamp >= fromUnixTimestamp64Nano({{start:Int64}})
  AND Timestamp < fromUnixTimestamp64Nano({{end:Int64}}){cond}"""
    return sql, params


def snapshot_rows(database: str, model: str, snapshot: str) -> Statement:
    sql = (
        f"SELECT count() FROM {table('ml_reference_features')} "
        "WHERE ModelName = {model:String} AND Snapshot = {snapshot:String}"
    )
    return sql, bound(database, model=model, snapshot=snapshot)


def record(
    database: str,
    name: str,
    model: str,
    version: str,
    start_ns: int,
    end_ns: int,
    snapshot: str,
    created_ns: int,
    description: str,
) -> Statement:
    params: dict[str, Any] = {
        "db": database,
        "name": name,
        "model": model,
        "version": version,
        "start": start_ns,
        "end": end_ns,
        "snapshot": snapshot,
        "created": created_ns,
        "description": description,
    }
    # Inferences: the feature with the most rows (every inference carries its prediction and
    # most carry every feature; an exact count would need the inference ids, not stored here).
    sql = f"""INSERT INTO {table("ml_references")}
    (ModelName, Name, CreatedAt, Snapshot, ModelVersion, StartTime, EndTime, Rows, Inferences,
     Features, Description)
SELECT {{model:String}}, {{name:String}}, fromUnixTimestamp64Nano({{created:Int64}}),
    {{snapshot:String}}, {{version:String}}, fromUnixTimestamp64Nano({{start:Int64}}),
    fromUnixTimestamp64Nano({{end:Int64}}), sum(n), max(n), arraySort(groupArray(Feature)),
    {{description:String}}
FROM (SELECT Feature, count() AS n FROM {table("ml_reference_features")}
      WHERE ModelName = {{model:String}} AND Snapshot = {{snapshot:String}} GROUP BY Feature)"""
    return sql, params


_LATEST = f"""SELECT Name, ModelName,
    argMax(Snapshot, CreatedAt) AS snapshot, argMax(ModelVersion, CreatedAt) AS version,
    toUnixTimestamp64Nano(argMax(StartTime, CreatedAt)) AS start_ns,
    toUnixTimestamp64Nano(argMax(EndTime, CreatedAt)) AS end_ns,
    toUnixTimestamp64Nano(max(CreatedAt)) AS created_ns,
    argMax(Rows, CreatedAt) AS rows, argMax(Inferences, CreatedAt) AS inferences,
    argMax(Features, CreatedAt) AS features, argMax(Description, CreatedAt) AS description
FROM {table("ml_references")}"""


def latest(database: str, model: str, name: str) -> Statement:
    """The newest save of one reference (no row: not saved)."""
    sql = (
        _LATEST
        + " WHERE ModelName = {model:String} AND Name = {name:String} GROUP BY Name, ModelName"
    )
    return sql, bound(database, model=model, name=name)


def list_references(database: str, model: str) -> Statement:
    """The newest save of every reference, of one model or ("" ) of all."""
    where = " WHERE ModelName = {model:String}" if model else ""
    sql = _LATEST + where + " GROUP BY Name, ModelName ORDER BY ModelName, Name"
    return sql, (bound(database, model=model) if model else bound(database))
