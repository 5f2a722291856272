"""Model performance: with labels (joined by inference id, the latest label wins) and, for
binary classifiers without labels, CBPE's expected metrics from the scores (anchors-ml.md §2.3:
P(correct) = 1 − |ŷ − p̂|, an expected confusion matrix summed over the window).

Classification (binary, `positive` class): accuracy, precision, recall, F1, ROC AUC (from the
scores, `arrayAUC`); a model whose predictions or labels are not 0/1 (or class names) gets
accuracy only. Regression: MAE, RMSE, R². Per window and/or per version in one query; accuracy
drift between a reference and a current range with a two-proportion z-test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from clickhouse_connect.driver.client import Client
from scipy import stats

from driftline.analysis.drift import EmptyWindowError
from driftline.analysis.latency import _require_model
from driftline.errors import InvalidInputError
from driftline.storage import performance_sql
from driftline.storage.client import qualify
from driftline.storage.latency_sql import Range

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class PerformanceRow:
    keys: dict[str, Any]
    count: int
    labelled: int
    metrics: dict[str, float] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)  # CBPE, from scores alone


@dataclass(frozen=True)
class AccuracyDrift:
    reference_accuracy: float
    current_accuracy: float
    difference: float
    p_value: float


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def _f1(precision: float, recall: float) -> float:
    return _div(2 * precision * recall, precision + recall)


def _classification(tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    return {
        "accuracy": _div(tp + tn, tp + fp + tn + fn),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
    }


def performance(
    client: Client,
    database: str,
    model: str,
    r: Range,
    *,
    group_by: Sequence[str] = (),
    bucket_s: int = 3600,
    positive: str = "1",
    task: Task | None = None,
) -> tuple[Task, list[PerformanceRow]]:
    if set(group_by) - {"version", "bucket"}:
        raise InvalidInputError("performance groups by version and/or bucket only")
    if r.end_ns <= r.start_ns:
        raise InvalidInputError("the time range is empty (end <= start)")
    _require_model(client, database, model)
    sql, params = performance_sql.performance(model, r, list(group_by), bucket_s, positive)
    result = client.query(qualify(sql, database), parameters={**params, "model": model})
    names = list(result.column_names)
    raw = [dict(zip(names, row, strict=True)) for row in result.result_rows]
    if not raw or not sum(int(v["n"]) for v in raw):
        raise EmptyWindowError(f"no inferences of {model!r} in this time range")
    if task is None:  # 0/1 or class names: a classifier; other numbers: a regressor
        non_binary = sum(int(v["non_binary"]) for v in raw)
        named = sum(int(v["named"]) for v in raw)
        task = "classification" if non_binary == 0 or named > 0 else "regression"
    rows = []
    for v in raw:
        metrics: dict[str, float] = {}
        if int(v["n_labelled"]):
            if task == "regression":
                sse = float(v["rmse"]) ** 2 * int(v["n_labelled"])
                sst = float(v["var_y"]) * int(v["n_labelled"])
                metrics = {
                    "mae": float(v["mae"]),
                    "rmse": float(v["rmse"]),
                    "r2": 1 - _div(sse, sst),
                }
            elif int(v["non_binary"]):
                metrics = {"accuracy": _div(float(v["correct"]), float(v["n_labelled"]))}
            else:
                metrics = _classification(v["tp"], v["fp"], v["tn"], v["fn"])
                if int(v["auc_pos"]) and int(v["auc_neg"]):
                    metrics["roc_auc"] = float(v["auc"])
        estimated = (
            _classification(v["e_tp"], v["e_fp"], v["e_tn"], v["e_fn"])
            if task == "classification" and int(v["n_scored"])
            else {}
        )
        keys = {k: v[k] for k in group_by}
        rows.append(PerformanceRow(keys, int(v["n"]), int(v["n_labelled"]), metrics, estimated))
    return task, rows


def accuracy_drift(
    client: Client, database: str, model: str, reference: Range, current: Range, positive: str = "1"
) -> AccuracyDrift:
    accuracies = []
    counts = []
    for r in (reference, current):
        _, rows = performance(client, database, model, r, positive=positive, task="classification")
        row = rows[0]
        if not row.labelled:
            raise EmptyWindowError("no labelled inferences in one of the windows")
        accuracies.append(row.metrics["accuracy"])
        counts.append(row.labelled)
    (a1, a2), (n1, n2) = accuracies, counts
    pooled = (a1 * n1 + a2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = 1.0 if se == 0 else float(2 * (1 - stats.norm.cdf(abs(a1 - a2) / se)))
    return AccuracyDrift(a1, a2, a2 - a1, p)
