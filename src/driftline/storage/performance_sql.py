"""The SQL behind performance answers (performance_rows.py runs it; analysis/performance.py
finishes it): predictions joined with their latest labels, confusion counts, regression errors,
ROC AUC and CBPE sums. Values and the database are bound parameters (bind.py)."""

from __future__ import annotations

from driftline.storage.bind import Statement, bound, table
from driftline.storage.latency_sql import GROUP_COLUMNS, Range, inference_filter


def performance(
    database: str, model: str, r: Range, group_by: list[str], bucket_s: int, positive: str
) -> Statement:
    """Per group: labelled share, confusion counts (binary, `positive` class), regression errors,
    ROC AUC from scores, and CBPE's expected confusion counts from scores alone. The latest
    label per inference wins."""
    params = bound(database, model=model, positive=positive)
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
    where = inference_filter(model, r, params)
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
    FROM (SELECT * FROM {table("ml_inferences")} WHERE {where}) AS i
    LEFT JOIN (
        SELECT InferenceId, argMax(Label, Timestamp) AS y, argMax(LabelClass, Timestamp) AS y_class
        FROM {table("ml_labels")} WHERE ModelName = {{model:String}} GROUP BY InferenceId
    ) AS l ON i.InferenceId = l.InferenceId
)
{group}""",
        params,
    )
