"""The SQL behind drift, latency and performance answers (the `monitor` package finishes them).

Every statement takes bound parameters (`{name:Type}`); the few fragments assembled here are
fixed text chosen by code, never user input.

Drift compares a *reference* with one or more *current* windows. Rows are tagged with a side:
-1 for the reference, 0…k-1 for the current windows (k > 1 when the current range is split into
`window_s` buckets), with `arrayJoin`, so a row in both (overlapping ranges) counts in both, and
every question is answered for all sides and all features by ONE grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Range:
    """Rows of a model in [start_ns, end_ns) and, if given, of one version."""

    start_ns: int
    end_ns: int
    version: str = ""


def _range_cond(prefix: str, r: Range, params: dict[str, Any]) -> str:
    params[f"{prefix}_start"] = r.start_ns
    params[f"{prefix}_end"] = r.end_ns
    cond = (
        f"Timestamp >= fromUnixTimestamp64Nano({{{prefix}_start:Int64}}) "
        f"AND Timestamp < fromUnixTimestamp64Nano({{{prefix}_end:Int64}})"
    )
    if r.version:
        params[f"{prefix}_version"] = r.version
        cond += f" AND ModelVersion = {{{prefix}_version:String}}"
    return f"({cond})"


def _sides(model: str, ref: Range, cur: Range, window_s: int, features: list[str]) -> Statement:
    """The FROM/WHERE part shared by the drift queries, with `side` and the filters."""
    params: dict[str, Any] = {"model": model}
    ref_cond, cur_cond = _range_cond("ref", ref, params), _range_cond("cur", cur, params)
    if window_s > 0:
        params["window_s"] = window_s
        cur_side = (
            "toInt64(intDiv(toUnixTimestamp64Nano(Timestamp) - {cur_start:Int64}, "
            "{window_s:Int64} * 1000000000))"
        )
    else:
        cur_side = "toInt64(0)"
    feature_cond = ""
    if features:
        params["features"] = features
        feature_cond = "AND Feature IN {features:Array(String)} "
    body = (
        f"FROM ml_features WHERE ModelName = {{model:String}} {feature_cond}"
        f"AND (Kind = 'categorical' OR isFinite(Value)) AND ({ref_cond} OR {cur_cond})"
    )
    side = (
        f"arrayJoin(arrayConcat(if({ref_cond}, [toInt64(-1)], []), "
        f"if({cur_cond}, [{cur_side}], [])))"
    )
    return f"{side} AS side {body}", params


def drift_stats(
    model: str, ref: Range, cur: Range, window_s: int, features: list[str]
) -> Statement:
    """Per feature and side: kind, rows, distinct values, min, max, mean, sample variance."""
    sides, params = _sides(model, ref, cur, window_s, features)
    return (
        f"""SELECT Feature, toString(any(Kind)) AS kind, side, count() AS n,
    uniqExact(if(Kind = 'numerical', reinterpretAsUInt64(Value), cityHash64(Category))) AS uniq,
    minIf(Value, Kind = 'numerical') AS lo, maxIf(Value, Kind = 'numerical') AS hi,
    avgIf(Value, Kind = 'numerical') AS mean, varSampIf(Value, Kind = 'numerical') AS var
FROM (SELECT Feature, Kind, Value, Category, {sides})
GROUP BY Feature, side
ORDER BY Feature, side""",
        params,
    )


def drift_counts(
    model: str, ref: Range, cur: Range, window_s: int, features: list[str]
) -> Statement:
    """Value counts per feature and side (categorical features, and numerical ones with few
    distinct values)."""
    sides, params = _sides(model, ref, cur, window_s, features)
    return (
        f"""SELECT Feature, side, toString(Kind) AS kind, Value, Category, count() AS n
FROM (SELECT Feature, Kind, Value, Category, {sides})
GROUP BY Feature, side, Kind, Value, Category""",
        params,
    )


def drift_values(model: str, ref: Range, cur: Range, window_s: int, feature: str) -> Statement:
    """Raw values of one numerical feature with their side, for methods that need them all."""
    sides, params = _sides(model, ref, cur, window_s, [feature])
    return f"SELECT toFloat64(side) AS side, Value FROM (SELECT Value, {sides})", params


def model_exists(model: str) -> Statement:
    return (
        "SELECT count() > 0 FROM ml_inferences WHERE ModelName = {model:String} LIMIT 1",
        {"model": model},
    )
