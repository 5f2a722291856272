"""The SQL behind latency answers (latency_rows.py runs it; analysis/latency.py finishes it).

Every value is a bound parameter (`{name:Type}`), the database too (`{db:Identifier}`,
bind.py); the few fragments assembled here are fixed text chosen by code, never user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline.storage.bind import Statement, bound, table


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


def model_exists(database: str, model: str) -> Statement:
    return (
        f"SELECT count() > 0 FROM {table('ml_inferences')} WHERE ModelName = {{model:String}}",
        bound(database, model=model),
    )


# ---- latency -------------------------------------------------------------------------------

GROUP_COLUMNS = {"model": "ModelName", "version": "ModelVersion", "span_name": "SpanName"}
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def inference_filter(model: str, r: Range, params: dict[str, Any]) -> str:
    clauses = [_range_cond("r", r, params)]
    if model:
        params["model"] = model
        clauses.append("ModelName = {model:String}")
    return " AND ".join(clauses)


def latency(database: str, model: str, r: Range, group_by: list[str], bucket_s: int) -> Statement:
    """count, error rate, exact p50/p90/p95/p99 (numpy's linear interpolation, R7) and max of
    the inference duration, grouped by any of model, version, span name and time bucket."""
    params = bound(database)
    keys = [f"{GROUP_COLUMNS[g]} AS {g}" for g in group_by if g in GROUP_COLUMNS]
    if "bucket" in group_by:
        params["bucket_s"] = bucket_s
        keys.append(
            "toInt64(toUnixTimestamp(toStartOfInterval(Timestamp, "
            "toIntervalSecond({bucket_s:UInt32})))) * 1000000000 AS bucket"
        )
    names = [k.rsplit(" AS ", 1)[1] for k in keys]
    select_keys = "".join(f"{k}, " for k in keys)
    group = f"GROUP BY {', '.join(names)} ORDER BY {', '.join(names)}" if names else ""
    qs = ", ".join(str(q) for q in QUANTILES)
    return (
        f"""SELECT {select_keys}count() AS n, countIf(StatusCode = 'Error') / count() AS error_rate,
    quantilesExactInclusive({qs})(Duration) AS q, max(Duration) AS max_ns
FROM {table("ml_inferences")} WHERE {inference_filter(model, r, params)}
{group}""",
        params,
    )


def burn_rates(
    database: str, model: str, version: str, threshold_ns: int, now_ns: int, windows_s: list[int]
) -> Statement:
    """Bad and total counts in every window, in one pass over the longest window. Bad = slower
    than the threshold, or an error."""
    params = bound(
        database, model=model, now=now_ns, windows=windows_s, threshold=threshold_ns,
        longest=max(windows_s),
    )  # fmt: skip
    version_cond = ""
    if version:
        params["version"] = version
        version_cond = "AND ModelVersion = {version:String}"
    age = "(toUnixTimestamp64Nano(fromUnixTimestamp64Nano({now:Int64})) - toUnixTimestamp64Nano(Timestamp))"
    return (
        f"""SELECT
    sumForEach(arrayMap(w -> toUInt64({age} <= w * 1000000000), {{windows:Array(UInt32)}})) AS total,
    sumForEach(arrayMap(w -> toUInt64({age} <= w * 1000000000
        AND (Duration > {{threshold:UInt64}} OR StatusCode = 'Error')), {{windows:Array(UInt32)}})) AS bad
FROM {table("ml_inferences")}
WHERE ModelName = {{model:String}} {version_cond}
  AND Timestamp >= fromUnixTimestamp64Nano({{now:Int64}}) - toIntervalSecond({{longest:UInt32}})
  AND Timestamp <= fromUnixTimestamp64Nano({{now:Int64}})""",
        params,
    )


def version_regression(
    database: str, model: str, r: Range, baseline: str, candidate: str
) -> Statement:
    """Mann-Whitney U of the two versions' durations (the engine's U counts the pairs where the
    baseline is larger), the tie term Σ(t³ − t) of the pooled durations for its variance, and
    the counts and medians/p99s of both."""
    params = bound(database, model=model, baseline=baseline, candidate=candidate)
    where = (
        f"FROM {table('ml_inferences')} WHERE ModelName = {{model:String}} "
        f"AND {_range_cond('r', r, params)} "
        "AND ModelVersion IN ({baseline:String}, {candidate:String})"
    )
    return (
        f"""SELECT
    countIf(ModelVersion = {{baseline:String}}) AS n_base,
    countIf(ModelVersion = {{candidate:String}}) AS n_cand,
    quantilesExactInclusiveIf(0.5, 0.99)(Duration, ModelVersion = {{baseline:String}}) AS q_base,
    quantilesExactInclusiveIf(0.5, 0.99)(Duration, ModelVersion = {{candidate:String}}) AS q_cand,
    mannWhitneyUTest('two-sided')(toFloat64(Duration), toUInt8(ModelVersion = {{candidate:String}})) AS mw,
    (SELECT sum(t * t * t - t) FROM (SELECT toFloat64(count()) AS t {where} GROUP BY Duration)) AS ties
{where}""",
        params,
    )


def version_durations(
    database: str, model: str, r: Range, baseline: str, candidate: str
) -> Statement:
    """Both versions' durations as a float64 matrix (is_candidate, duration), for small samples."""
    params = bound(database, model=model, baseline=baseline, candidate=candidate)
    return (
        f"""SELECT toFloat64(ModelVersion = {{candidate:String}}), toFloat64(Duration)
FROM {table("ml_inferences")} WHERE ModelName = {{model:String}} AND {_range_cond("r", r, params)}
  AND ModelVersion IN ({{baseline:String}}, {{candidate:String}})""",
        params,
    )
