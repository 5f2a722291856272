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


# ---- latency -------------------------------------------------------------------------------

GROUP_COLUMNS = {"model": "ModelName", "version": "ModelVersion", "span_name": "SpanName"}
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def _inference_filter(model: str, r: Range, params: dict[str, Any]) -> str:
    clauses = [_range_cond("r", r, params)]
    if model:
        params["model"] = model
        clauses.append("ModelName = {model:String}")
    return " AND ".join(clauses)


def latency(model: str, r: Range, group_by: list[str], bucket_s: int) -> Statement:
    """count, error rate, exact p50/p90/p95/p99 (numpy's linear interpolation, R7) and max of
    the inference duration, grouped by any of model, version, span name and time bucket."""
    params: dict[str, Any] = {}
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
FROM ml_inferences WHERE {_inference_filter(model, r, params)}
{group}""",
        params,
    )


def burn_rates(
    model: str, version: str, threshold_ns: int, now_ns: int, windows_s: list[int]
) -> Statement:
    """Bad and total counts in every window, in one pass over the longest window. Bad = slower
    than the threshold, or an error."""
    params: dict[str, Any] = {
        "model": model, "now": now_ns, "windows": windows_s, "threshold": threshold_ns,
        "longest": max(windows_s),
    }  # fmt: skip
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
FROM ml_inferences
WHERE ModelName = {{model:String}} {version_cond}
  AND Timestamp >= fromUnixTimestamp64Nano({{now:Int64}}) - toIntervalSecond({{longest:UInt32}})
  AND Timestamp <= fromUnixTimestamp64Nano({{now:Int64}})""",
        params,
    )


def version_regression(model: str, r: Range, baseline: str, candidate: str) -> Statement:
    """Mann-Whitney U (two-sided) of the candidate's durations against the baseline's, with the
    counts and medians/p99s of both."""
    params: dict[str, Any] = {"model": model, "baseline": baseline, "candidate": candidate}
    cond = _range_cond("r", r, params)
    return (
        f"""SELECT
    countIf(ModelVersion = {{baseline:String}}) AS n_base,
    countIf(ModelVersion = {{candidate:String}}) AS n_cand,
    quantilesExactInclusiveIf(0.5, 0.99)(Duration, ModelVersion = {{baseline:String}}) AS q_base,
    quantilesExactInclusiveIf(0.5, 0.99)(Duration, ModelVersion = {{candidate:String}}) AS q_cand,
    mannWhitneyUTest('two-sided')(toFloat64(Duration), toUInt8(ModelVersion = {{candidate:String}})) AS mw
FROM ml_inferences
WHERE ModelName = {{model:String}} AND {cond}
  AND ModelVersion IN ({{baseline:String}}, {{candidate:String}})""",
        params,
    )


# ---- performance ------------------------------------------------------------------------------


def performance(
    model: str, r: Range, group_by: list[str], bucket_s: int, positive: str
) -> Statement:
    """Per group: labelled share, confusion counts (binary, `positive` class), regression errors,
    ROC AUC from scores, and CBPE's expected confusion counts from scores alone. The latest
    label per inference wins."""
    params: dict[str, Any] = {"positive": positive}
    keys = [f"{GROUP_COLUMNS[g]} AS {g}" for g in group_by if g in ("version",)]
    if "bucket" in group_by:
        params["bucket_s"] = bucket_s
        keys.append(
            "toInt64(toUnixTimestamp(toStartOfInterval(Timestamp, "
            "toIntervalSecond({bucket_s:UInt32})))) * 1000000000 AS bucket"
        )
    names = [k.rsplit(" AS ", 1)[1] for k in keys]
    select_keys = "".join(f"{k}, " for k in keys)
    group = f"GROUP BY {', '.join(names)} ORDER BY {', '.join(names)}" if names else ""
    where = _inference_filter(model, r, params)
    return (
        f"""SELECT {select_keys}count() AS n, countIf(labelled) AS n_labelled,
    countIf(labelled AND pred_pos AND true_pos) AS tp, countIf(labelled AND pred_pos AND NOT true_pos) AS fp,
    countIf(labelled AND NOT pred_pos AND NOT true_pos) AS tn, countIf(labelled AND NOT pred_pos AND true_pos) AS fn,
    countIf(labelled AND (y_class != '' OR pred_class != '' OR y NOT IN (0, 1) OR pred NOT IN (0, 1))) AS non_binary,
    countIf(labelled AND (y_class != '' OR pred_class != '')) AS named,
    countIf(labelled AND pred_class = y_class AND (pred_class != '' OR pred = y)) AS correct,
    avgIf(abs(pred - y), labelled AND isFinite(pred) AND isFinite(y)) AS mae,
    sqrt(avgIf(pow(pred - y, 2), labelled AND isFinite(pred) AND isFinite(y))) AS rmse,
    varPopIf(y, labelled AND isFinite(pred) AND isFinite(y)) AS var_y,
    arrayAUC(groupArrayIf(score, labelled AND isFinite(score)),
             groupArrayIf(toUInt8(true_pos), labelled AND isFinite(score))) AS auc,
    countIf(labelled AND isFinite(score) AND true_pos) AS auc_pos,
    countIf(labelled AND isFinite(score) AND NOT true_pos) AS auc_neg,
    countIf(isFinite(score) AND pred IN (0, 1)) AS n_scored,
    sumIf(if(pred = 1, 1 - abs(pred - score), 0), isFinite(score) AND pred IN (0, 1)) AS e_tp,
    sumIf(if(pred = 1, abs(pred - score), 0), isFinite(score) AND pred IN (0, 1)) AS e_fp,
    sumIf(if(pred = 0, 1 - abs(pred - score), 0), isFinite(score) AND pred IN (0, 1)) AS e_tn,
    sumIf(if(pred = 0, abs(pred - score), 0), isFinite(score) AND pred IN (0, 1)) AS e_fn
FROM (
    SELECT i.Timestamp AS Timestamp, i.ModelVersion AS ModelVersion, i.Prediction AS pred,
        i.PredictionClass AS pred_class, i.Score AS score,
        l.InferenceId != '' AS labelled, l.y AS y, l.y_class AS y_class,
        if(pred_class != '', pred_class, toString(pred)) = {{positive:String}} AS pred_pos,
        if(y_class != '', y_class, toString(y)) = {{positive:String}} AS true_pos
    FROM (SELECT * FROM ml_inferences WHERE {where}) AS i
    LEFT JOIN (
        SELECT InferenceId, argMax(Label, Timestamp) AS y, argMax(LabelClass, Timestamp) AS y_class
        FROM ml_labels WHERE ModelName = {{model:String}} GROUP BY InferenceId
    ) AS l ON i.InferenceId = l.InferenceId
)
{group}""",
        params,
    )
