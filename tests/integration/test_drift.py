"""Drift on the real engine, every one of Evidently's methods against an independent numpy/scipy
computation on data built here (fixed seeds), including Evidently's edge cases. (The engine's
own tests are test_drift_engine.py; this is a second, method-by-method check.)"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from scipy import stats
from scipy.spatial import distance

from driftline.analysis.drift import (
    DriftReport,
    DriftRequest,
    EmptyWindowError,
    Window,
)
from driftline.errors import InvalidInputError
from driftline.query.drift import drift_report as _drift_report
from driftline.query.drift import drift_reports
from tests.engine_db import fresh_database

HOUR = 3600 * 10**9
NOW = time.time_ns()
REF = Window(NOW - 3 * HOUR, NOW - HOUR)
CUR = Window(NOW - HOUR, NOW)
rng = np.random.default_rng(42)
DATA: dict[str, tuple[Any, Any]] = {
    "shifted": (rng.normal(0, 1, 2000), rng.normal(0.6, 1, 1500)),
    "stable": (rng.normal(5, 2, 2000), rng.normal(5, 2, 1500)),
    "small": (rng.normal(0, 1, 300), rng.normal(0.1, 1, 200)),  # ≤ 1000 reference rows
    "few": (rng.integers(0, 4, 2000).astype(float), rng.integers(0, 4, 1500).astype(float)),
    "constant": (np.full(800, 3.0), np.full(600, 3.0)),
    "country": (
        rng.choice(["DE", "FR", "US"], 2000, p=[0.5, 0.3, 0.2]),
        rng.choice(["DE", "FR", "US", "NG"], 1500, p=[0.3, 0.3, 0.2, 0.2]),  # NG is new
    ),
    "flag": (rng.choice(["y", "n"], 400), rng.choice(["y", "n"], 400, p=[0.8, 0.2])),
}


def stamps_in(r: Window, n: int) -> np.ndarray:
    """n timestamps spread over [start, end), in integer arithmetic (floats would round
    nanoseconds near 1.8e18 by hundreds and push rows across the window edge)."""
    step = (r.end_ns - r.start_ns - 2) // n
    return r.start_ns + 1 + np.arange(n, dtype=np.int64) * step


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "drift") as (client, target):
        rows = []
        for feature, (ref, cur) in DATA.items():
            for values, r in ((ref, REF), (cur, CUR)):
                stamps = stamps_in(r, len(values))
                for value, ts in zip(values, stamps, strict=True):
                    numerical = isinstance(value, float | np.floating)
                    rows.append([
                        "m", feature, int(ts), "1", 1 if numerical else 2,
                        float(value) if numerical else math.nan, "" if numerical else str(value),
                    ])  # fmt: skip
        # A NaN and an inf in the reference: dropped, as Evidently drops them.
        rows += [["m", "shifted", REF.start_ns + 5, "1", 1, math.nan, ""]]
        rows += [["m", "shifted", REF.start_ns + 6, "1", 1, math.inf, ""]]
        client.command(
            "CREATE TEMPORARY TABLE staging (m String, f String, t Int64, v String, k Int8, "
            "x Float64, c String)"
        )
        client.insert("staging", rows, column_names=["m", "f", "t", "v", "k", "x", "c"])
        client.command(
            f"INSERT INTO {target.database}.ml_features SELECT m, f, fromUnixTimestamp64Nano(t), "
            "v, k, x, c FROM staging"
        )
        client.command(
            f"INSERT INTO {target.database}.ml_inferences (Timestamp, ModelName, ModelVersion) "
            "VALUES (now64(9), 'm', '1')"
        )
        yield client, target.database


def compute(db: tuple[Client, str], **kwargs: Any) -> DriftReport:
    client, database = db
    features = tuple(kwargs.pop("features", ()))
    return _drift_report(client, database, DriftRequest("m", REF, CUR, features, **kwargs))


def drift(db: tuple[Client, str], **kwargs: Any) -> dict[str, Any]:
    return {f.feature: f for f in compute(db, **kwargs).features}


def shares(ref: Any, cur: Any) -> tuple[list[Any], np.ndarray, np.ndarray]:
    keys = sorted(set(ref) | set(cur))
    r = np.array([np.sum(ref == k) for k in keys]) / len(ref)
    c = np.array([np.sum(cur == k) for k in keys]) / len(cur)
    return keys, r, c


def filled(p: np.ndarray) -> np.ndarray:
    nz = p[p > 0].min()
    return np.where(p == 0, nz / 1e6 if nz <= 1e-4 else 1e-4, p)


def test_default_methods_scores_and_verdicts(db: tuple[Client, str]) -> None:
    got = drift(db)
    ref, cur = DATA["shifted"]
    w = got["shifted"]
    assert w.method == "wasserstein" and w.threshold == 0.1 and w.n_ref == 2000
    assert w.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    assert w.drifted and not got["stable"].drifted
    assert got["small"].method == "ks"
    assert got["small"].score == pytest.approx(stats.ks_2samp(*DATA["small"]).pvalue, rel=1e-9)
    assert got["few"].method == "jensenshannon"  # numerical, 4 values, > 1000 rows
    _, r, c = shares(*DATA["few"])
    assert got["few"].score == pytest.approx(distance.jensenshannon(r, c), rel=1e-9)
    assert got["country"].method == "jensenshannon" and got["country"].drifted
    _, r, c = shares(*DATA["country"])
    assert got["country"].score == pytest.approx(distance.jensenshannon(r, c), rel=1e-9)
    assert got["constant"].method == "z" and got["constant"].score == 1.0  # same constant
    assert got["flag"].method == "z"
    ref_f, cur_f = DATA["flag"]
    p1, p2 = np.mean(ref_f != "n"), np.mean(cur_f != "n")
    pooled = (p1 * len(ref_f) + p2 * len(cur_f)) / (len(ref_f) + len(cur_f))
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 400))
    assert got["flag"].score == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))), rel=1e-9)


def test_every_numerical_method_against_scipy(db: tuple[Client, str]) -> None:
    ref, cur = DATA["shifted"]
    expected = {
        "ks": stats.ks_2samp(ref, cur).pvalue,
        "t_test": stats.ttest_ind(ref, cur).pvalue,
        "mannw": stats.mannwhitneyu(ref, cur, alternative="less").pvalue,
        "ed": stats.energy_distance(ref, cur),
        "anderson": stats.anderson_ksamp([ref, cur]).significance_level,
        "cramer_von_mises": stats.cramervonmises_2samp(ref, cur).pvalue,
    }
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur, edges)[0] / len(cur)
    expected["jensenshannon"] = distance.jensenshannon(r, c)
    rf, cf = filled(r), filled(c)
    expected["psi"] = float(np.sum((rf - cf) * np.log(rf / cf)))
    expected["kl_div"] = stats.entropy(rf, cf)
    hist_edges = np.histogram_bin_edges(np.unique(np.concatenate([ref, cur])), bins="sturges")
    h1 = np.histogram(ref, hist_edges, density=True)[0]
    h2 = np.histogram(cur, hist_edges, density=True)[0]
    expected["hellinger"] = math.sqrt(1 - min(np.sum(np.sqrt(h1 * h2) * np.diff(hist_edges)), 1))
    for method, value in expected.items():
        got = drift(db, features=["shifted"], method=method)["shifted"]
        assert got.method == method
        assert got.score == pytest.approx(value, rel=1e-7, abs=1e-12), method


def test_categorical_methods_and_a_new_category(db: tuple[Client, str]) -> None:
    ref, cur = DATA["country"]
    keys, r, c = shares(ref, cur)
    got = drift(db, features=["country"], cat_method="chisquare")["country"]
    assert got.score == 0.0 and got.drifted  # NG is new: f_exp = 0 → p = 0
    got = drift(db, features=["country"], method="psi")["country"]
    rf, cf = filled(r), filled(c)
    assert got.score == pytest.approx(np.sum((rf - cf) * np.log(rf / cf)), rel=1e-9)
    assert tuple(got.distribution.labels) == tuple(keys)
    got = drift(db, features=["country"], method="hellinger")["country"]
    assert got.score == pytest.approx(math.sqrt(1 - np.sum(np.sqrt(r * c))), rel=1e-9)
    ref_f, cur_f = DATA["flag"]  # equal sizes: g_test and fisher_exact apply
    _, rc, cc = shares(ref_f, cur_f)
    got = drift(db, features=["flag"], method="g_test")["flag"]
    g = stats.power_divergence(cc * 400, rc * 400, lambda_="log-likelihood").pvalue
    assert got.score == pytest.approx(g, rel=1e-9)
    got = drift(db, features=["flag"], method="fisher_exact")["flag"]
    table = [
        [np.sum(cur_f == "y"), np.sum(cur_f == "n")],
        [np.sum(ref_f == "y"), np.sum(ref_f == "n")],
    ]
    assert got.score == pytest.approx(stats.fisher_exact(table)[1], rel=1e-9)
    got = drift(db, features=["flag"], method="TVD")["flag"]
    assert 0 <= got.score <= 1 and got.drifted  # 50/50 → 80/20 on 400 rows: clearly drifted


def test_thresholds_precedence_and_dataset_share(db: tuple[Client, str]) -> None:
    got = drift(
        db,
        threshold=0.5,
        num_threshold=0.3,
        feature_thresholds={"shifted": 0.9},
    )
    assert got["shifted"].threshold == 0.9 and not got["shifted"].drifted  # per feature wins
    assert got["stable"].threshold == 0.3  # per kind next
    assert got["country"].threshold == 0.5  # request-wide for the categorical
    report = compute(db, drift_share=0.2)
    assert report.share_drifted == report.n_drifted / len(report.features)
    assert report.dataset_drift == (report.share_drifted >= 0.2)


def test_many_windows_from_the_same_queries(db: tuple[Client, str]) -> None:
    client, database = db
    request = DriftRequest("m", REF, CUR, ("shifted",), window_s=1800)
    reports = drift_reports(client, database, request)
    assert len(reports) == 2
    ref, cur = DATA["shifted"]
    stamps = stamps_in(CUR, len(cur))
    first = cur[(stamps - CUR.start_ns) // (1800 * 10**9) == 0]
    score = reports[0].features[0].score
    assert score == pytest.approx(stats.wasserstein_distance(ref, first) / np.std(ref), rel=1e-9)
    assert reports[0].window_end_ns == reports[1].window_start_ns


def test_bad_requests_get_clear_errors(db: tuple[Client, str]) -> None:
    client, database = db
    empty = Window(NOW - 100 * HOUR, NOW - 99 * HOUR)
    with pytest.raises(EmptyWindowError, match="reference"):
        _drift_report(client, database, DriftRequest("m", empty, CUR))
    with pytest.raises(InvalidInputError, match="bogus"):
        drift(db, method="bogus")
    with pytest.raises(InvalidInputError, match="ks"):
        drift(db, features=["country"], method="ks")
    with pytest.raises(EmptyWindowError, match="ghost"):
        drift(db, features=["ghost"])
