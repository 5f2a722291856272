"""Model performance from the engine's per-group sums: with labels (joined by inference id, the
latest label wins) and, for binary classifiers without labels, CBPE's expected metrics from the
scores (anchors-ml.md §2.3: P(correct) = 1 − |ŷ − p̂|, an expected confusion matrix summed over
the window).

Classification (binary, `positive` class): accuracy, precision, recall, F1, ROC AUC (from the
scores, `arrayAUC` in the engine); a model whose predictions or labels are not 0/1 (or class
names) gets accuracy only. Regression: MAE, RMSE, R². Accuracy drift between a reference and a
current range is a two-proportion z-test whose two-sided p is `2·norm.sf(|z|)` (a survival
function: no underflow to 0 for large differences). Pure: no client, no SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy import stats

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class PerformanceSums:
    """One group's figures from storage/performance_sql.py (names as its columns)."""

    keys: dict[str, Any]
    n: int
    n_labelled: int
    tp: int
    fp: int
    tn: int
    fn: int
    non_binary: int
    named: int
    correct: int
    mae: float
    rmse: float
    var_y: float
    auc: float
    auc_pos: int
    auc_neg: int
    n_scored: int
    e_tp: float
    e_fp: float
    e_tn: float
    e_fn: float


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


def _classification(tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    return {
        "accuracy": _div(tp + tn, tp + fp + tn + fn),
        "precision": precision,
        "recall": recall,
        "f1": _div(2 * precision * recall, precision + recall),
    }


def infer_task(groups: Sequence[PerformanceSums]) -> Task:
    """0/1 or class names: a classifier; other numbers: a regressor."""
    non_binary = sum(g.non_binary for g in groups)
    named = sum(g.named for g in groups)
    return "classification" if non_binary == 0 or named > 0 else "regression"


def performance_row(g: PerformanceSums, task: Task) -> PerformanceRow:
    metrics: dict[str, float] = {}
    if g.n_labelled:
        if task == "regression":
            sse = g.rmse**2 * g.n_labelled
            sst = g.var_y * g.n_labelled
            metrics = {"mae": g.mae, "rmse": g.rmse, "r2": 1 - _div(sse, sst)}
        elif g.non_binary:
            metrics = {"accuracy": _div(g.correct, g.n_labelled)}
        else:
            metrics = _classification(g.tp, g.fp, g.tn, g.fn)
            if g.auc_pos and g.auc_neg:
                metrics["roc_auc"] = g.auc
    estimated = (
        _classification(g.e_tp, g.e_fp, g.e_tn, g.e_fn)
        if task == "classification" and g.n_scored
        else {}
    )
    return PerformanceRow(g.keys, g.n, g.n_labelled, metrics, estimated)


def accuracy_drift(a1: float, n1: int, a2: float, n2: int) -> AccuracyDrift:
    """Two-proportion z-test of the accuracies a1 (n1 labelled) and a2 (n2 labelled)."""
    pooled = (a1 * n1 + a2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(a1 - a2) / se))
    return AccuracyDrift(a1, a2, a2 - a1, p)
