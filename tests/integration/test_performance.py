"""Performance on the real engine against numpy/scipy on predictions and labels built here;
labels arriving later change the answer; CBPE from scores alone."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from scipy import stats

from driftline.analysis.drift import EmptyWindowError
from driftline.errors import NotFoundError
from driftline.query.performance import accuracy_drift, performance
from driftline.storage.latency_sql import Range
from tests.engine_db import fresh_database

NOW = time.time_ns()
HOUR = 3600 * 10**9
rng = np.random.default_rng(3)
N = 2000
SCORE = rng.random(N)
PRED = (SCORE >= 0.5).astype(float)
TRUTH = (rng.random(N) < SCORE).astype(float)  # calibrated: P(y=1) = score
AGE = rng.integers(0, 2 * HOUR, N)  # older half: the reference hour
REG_PRED = rng.normal(10, 2, 500)
REG_TRUTH = REG_PRED + rng.normal(0, 1, 500)


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "perf") as (client, target):
        d = target.database
        rows = [
            [NOW - int(a), "clf", f"c{i}", "v1" if i % 2 else "v2", float(p), float(s)]
            for i, (a, p, s) in enumerate(zip(AGE, PRED, SCORE, strict=True))
        ]
        rows += [
            [NOW - 1000, "reg", f"r{i}", "v1", float(p), math.nan] for i, p in enumerate(REG_PRED)
        ]
        client.command(
            "CREATE TEMPORARY TABLE perf_i "
            "(t Int64, m String, id String, v String, p Float64, s Float64)"
        )
        client.insert("perf_i", rows, column_names=["t", "m", "id", "v", "p", "s"])
        client.command(
            f"INSERT INTO {d}.ml_inferences (Timestamp, ModelName, InferenceId, ModelVersion, "
            "Prediction, Score) SELECT fromUnixTimestamp64Nano(t), m, id, v, p, s FROM perf_i"
        )
        yield client, d


def add_labels(db: tuple[Client, str], model: str, ids: list[str], labels: list[float]) -> None:
    client, d = db
    now = time.time_ns()  # the later label of an inference wins
    client.command("DROP TEMPORARY TABLE IF EXISTS perf_l")
    client.command("CREATE TEMPORARY TABLE perf_l (m String, id String, t Int64, y Float64)")
    client.insert("perf_l", [[model, i, now, y] for i, y in zip(ids, labels, strict=True)])
    client.command(
        f"INSERT INTO {d}.ml_labels (ModelName, InferenceId, Timestamp, Label, Source) "
        "SELECT m, id, fromUnixTimestamp64Nano(t), y, 'api' FROM perf_l"
    )


ALL = Range(NOW - 3 * HOUR, NOW + 1)


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney identity: U / (n1 n0)."""
    u = stats.mannwhitneyu(scores[truth == 1], scores[truth == 0]).statistic
    return float(u / ((truth == 1).sum() * (truth == 0).sum()))


def test_labels_arriving_later_change_the_answer(db: tuple[Client, str]) -> None:
    task, rows = performance(*db, "clf", ALL)
    assert task == "classification" and rows[0].labelled == 0 and rows[0].metrics == {}
    # CBPE from scores alone: expected confusion counts from P(correct) = 1 - |y_hat - p|.
    correct = 1 - np.abs(PRED - SCORE)
    e_tp, e_fp = correct[PRED == 1].sum(), (1 - correct)[PRED == 1].sum()
    e_tn, e_fn = correct[PRED == 0].sum(), (1 - correct)[PRED == 0].sum()
    est = rows[0].estimated
    assert est["accuracy"] == pytest.approx((e_tp + e_tn) / N, rel=1e-9)
    assert est["precision"] == pytest.approx(e_tp / (e_tp + e_fp), rel=1e-9)
    assert est["recall"] == pytest.approx(e_tp / (e_tp + e_fn), rel=1e-9)

    half = N // 2
    add_labels(db, "clf", [f"c{i}" for i in range(half)], list(TRUTH[:half]))
    _, rows = performance(*db, "clf", ALL)
    y, p, s = TRUTH[:half], PRED[:half], SCORE[:half]
    tp, fp = ((p == 1) & (y == 1)).sum(), ((p == 1) & (y == 0)).sum()
    fn = ((p == 0) & (y == 1)).sum()
    m = rows[0].metrics
    assert rows[0].labelled == half
    assert m["accuracy"] == pytest.approx((p == y).mean(), rel=1e-12)
    assert m["precision"] == pytest.approx(tp / (tp + fp), rel=1e-12)
    assert m["recall"] == pytest.approx(tp / (tp + fn), rel=1e-12)
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), rel=1e-12)
    assert m["roc_auc"] == pytest.approx(auc(s, y), rel=1e-9)
    # A corrected label for c0 replaces the first one.
    add_labels(db, "clf", ["c0"], [1 - TRUTH[0]])
    _, rows = performance(*db, "clf", ALL)
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    assert rows[0].metrics["accuracy"] == pytest.approx((p == y2).mean(), rel=1e-12)


def test_per_version_rows_and_accuracy_drift(db: tuple[Client, str]) -> None:
    add_labels(db, "clf", [f"c{i}" for i in range(N // 2, N)], list(TRUTH[N // 2 :]))
    _, rows = performance(*db, "clf", ALL, group_by=["version"])
    assert [r.keys["version"] for r in rows] == ["v1", "v2"]
    assert sum(r.count for r in rows) == N
    ref, cur = Range(NOW - 2 * HOUR - 1, NOW - HOUR), Range(NOW - HOUR, NOW + 1)
    result = accuracy_drift(*db, "clf", ref, cur)
    assert result.difference == pytest.approx(result.current_accuracy - result.reference_accuracy)
    assert 0 <= result.p_value <= 1


def test_regression_metrics(db: tuple[Client, str]) -> None:
    add_labels(db, "reg", [f"r{i}" for i in range(500)], list(REG_TRUTH))
    task, rows = performance(*db, "reg", ALL)
    assert task == "regression"
    err = REG_PRED - REG_TRUTH
    m = rows[0].metrics
    assert m["mae"] == pytest.approx(np.abs(err).mean(), rel=1e-9)
    assert m["rmse"] == pytest.approx(np.sqrt((err**2).mean()), rel=1e-9)
    r2 = 1 - (err**2).sum() / ((REG_TRUTH - REG_TRUTH.mean()) ** 2).sum()
    assert m["r2"] == pytest.approx(r2, rel=1e-9)


def test_bad_requests(db: tuple[Client, str]) -> None:
    with pytest.raises(NotFoundError):
        performance(*db, "nope", ALL)
    with pytest.raises(EmptyWindowError):
        performance(*db, "clf", Range(NOW - 100 * HOUR, NOW - 99 * HOUR))


def test_accuracy_drift_p_value_does_not_underflow(db: tuple[Client, str]) -> None:
    """#11.7: 95% correct in the reference hour, 50% in the current one: p ≈ 4e-46, which
    2·(1 − Φ(z)) rounds to 0. Checked against scipy's z-test on the counts built here."""
    n = 400
    ref_ok = np.arange(n) < 0.95 * n
    cur_ok = np.arange(n) < 0.5 * n
    rows, ids, labels = [], [], []
    for side, ok, age in (("r", ref_ok, 90 * 60 * 10**9), ("c", cur_ok, 30 * 60 * 10**9)):
        for i, correct in enumerate(ok):
            ids.append(f"{side}{i}")
            rows.append([NOW - age - i, "acc", ids[-1], "v1", 1.0, 0.9])
            labels.append(1.0 if correct else 0.0)
    client, d = db
    client.command("DROP TEMPORARY TABLE IF EXISTS perf_i")
    client.command(
        "CREATE TEMPORARY TABLE perf_i (t Int64, m String, id String, v String, p Float64, "
        "s Float64)"
    )
    client.insert("perf_i", rows, column_names=["t", "m", "id", "v", "p", "s"])
    client.command(
        f"INSERT INTO {d}.ml_inferences (Timestamp, ModelName, InferenceId, ModelVersion, "
        "Prediction, Score) SELECT fromUnixTimestamp64Nano(t), m, id, v, p, s FROM perf_i"
    )
    add_labels(db, "acc", ids, labels)
    ref, cur = Range(NOW - 2 * HOUR, NOW - HOUR), Range(NOW - HOUR, NOW + 1)
    result = accuracy_drift(*db, "acc", ref, cur)
    a1, a2 = ref_ok.mean(), cur_ok.mean()
    pooled = (a1 + a2) / 2
    z = abs(a1 - a2) / np.sqrt(pooled * (1 - pooled) * (2 / n))
    want = 2 * stats.norm.sf(z)
    assert 0 < want < 1e-30  # 1 - cdf(z) is exactly 0 below ~1e-17
    assert result.p_value == pytest.approx(want, rel=1e-9)
