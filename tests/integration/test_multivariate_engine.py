"""Multivariate drift on the real engine: a correlation flip that no marginal shows.

The reconstruction error is checked against an independent pipeline built from scikit-learn
(SimpleImputer, frequency encoding, StandardScaler, PCA(n_components=0.65)) on the very rows the
test inserted; the flip must raise the error above the reference chunks' threshold while each
feature's own distribution stays the same."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from driftline.alerts.measure import Measurer
from driftline.config.alerts import AlertRule
from driftline.config.derived import DerivedConfig, DerivedDriftConfig
from driftline.export.derived import compute
from driftline.query.quality import MultivariateRequest, multivariate_drift
from driftline.storage.client import Target
from driftline.storage.quality_sql import Scope
from tests.engine_db import fresh_database

NOW = time.time_ns()
HOUR = 3600 * 10**9
REF = Scope(NOW - 4 * HOUR, NOW - 2 * HOUR)
CUR = Scope(NOW - 2 * HOUR, NOW)
N = 3000
rng = np.random.default_rng(5)


def _side(corr: float, n: int) -> dict[str, Any]:
    cov = [[1.0, corr], [corr, 1.0]]
    xy = rng.multivariate_normal([0, 0], cov, n)
    return {
        "x": xy[:, 0],
        "y": xy[:, 1],
        "z": rng.normal(5, 2, n),
        "k": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
    }


DATA = {"ref": _side(0.9, N), "cur": _side(-0.9, N)}


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "mv") as (client, target):
        names = ("ModelName", "Feature", "Timestamp", "ModelVersion", "Kind", "Value", "Category")
        cols: dict[str, list[Any]] = {c: [] for c in names}
        infs: dict[str, list[Any]] = {c: [] for c in ("ModelName", "InferenceId", "Timestamp")}
        for side, start in (("ref", REF.start_ns), ("cur", CUR.start_ns)):
            ts = start + np.arange(N) * (2 * HOUR // (N + 1))
            for i, t in enumerate(ts):
                infs["ModelName"].append("m")
                infs["InferenceId"].append(f"{side}{i}")
                infs["Timestamp"].append(int(t))
                for name, values in DATA[side].items():
                    numerical = name != "k"
                    cols["ModelName"].append("m")
                    cols["Feature"].append(name)
                    cols["Timestamp"].append(int(t))
                    cols["ModelVersion"].append("1")
                    cols["Kind"].append("numerical" if numerical else "categorical")
                    cols["Value"].append(float(values[i]) if numerical else float("nan"))
                    cols["Category"].append("" if numerical else str(values[i]))
                # a prediction: left out of the default inputs (ml.* keys are outputs)
                cols["ModelName"].append("m")
                cols["Feature"].append("ml.prediction")
                cols["Timestamp"].append(int(t))
                cols["ModelVersion"].append("1")
                cols["Kind"].append("numerical")
                cols["Value"].append(0.5)
                cols["Category"].append("")
        for table, c in (("ml_features", cols), ("ml_inferences", infs)):
            client.insert(
                table, [c[k] for k in c], column_names=list(c), column_oriented=True,
                database=target.database,
            )  # fmt: skip
        yield client, target


def _sklearn_errors(ref: dict[str, Any], cur: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int]:
    """NannyML's pipeline from scikit-learn parts: frequency-encode k, scale, PCA(0.65)."""
    values, counts = np.unique(ref["k"], return_counts=True)
    freq = dict(zip(values, counts / len(ref["k"]), strict=True))

    def matrix(d: dict[str, Any]) -> np.ndarray:
        return np.column_stack([d["x"], d["y"], d["z"], [freq.get(v, 0.0) for v in d["k"]]])

    scaler = StandardScaler().fit(matrix(ref))
    pca = PCA(n_components=0.65, random_state=16).fit(scaler.transform(matrix(ref)))

    def errors(d: dict[str, Any]) -> np.ndarray:
        z = scaler.transform(matrix(d))
        return np.asarray(np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1))

    return errors(ref), errors(cur), int(pca.n_components_)


def test_reconstruction_error_matches_sklearn_and_catches_the_flip(
    db: tuple[Client, Target],
) -> None:
    answer = multivariate_drift(db[0], db[1].database, MultivariateRequest("m", REF, CUR))
    assert answer.numerical == ["x", "y", "z"] and answer.categorical == ["k"]
    ref_err, cur_err, k = _sklearn_errors(DATA["ref"], DATA["cur"])
    assert answer.components == k
    assert answer.reference_rows == N
    size = N // 10
    want_chunks = [ref_err[i * size : (i + 1) * size].mean() for i in range(10)]
    got_chunks = [c.value for c in answer.reference_chunks]
    np.testing.assert_allclose(got_chunks, want_chunks, rtol=1e-9)
    window = answer.windows[0]
    assert window.rows == N
    assert window.error.value == pytest.approx(cur_err.mean(), rel=1e-9)
    upper = np.mean(want_chunks) + 3 * np.std(want_chunks)
    assert window.error.upper == pytest.approx(upper, rel=1e-9)
    assert window.error.sampling_error == pytest.approx(np.std(ref_err, ddof=1) / np.sqrt(N))
    assert window.error.alert and answer.drifted
    # no single feature moved: the marginals pass a two-sample KS test
    for name in ("x", "y", "z"):
        assert stats.ks_2samp(DATA["ref"][name], DATA["cur"][name]).pvalue > 0.001
    # the domain classifier tells the flipped rows apart through the x·y interaction
    assert window.classifier_auroc > 0.65 and window.classifier_alert


def test_no_alert_without_drift(db: tuple[Client, Target]) -> None:
    later_ref = Scope(REF.start_ns, REF.start_ns + HOUR)
    rest_ref = Scope(REF.start_ns + HOUR, REF.end_ns)
    answer = multivariate_drift(
        db[0], db[1].database, MultivariateRequest("m", later_ref, rest_ref)
    )
    assert not answer.windows[0].error.alert
    assert 0.4 < answer.windows[0].classifier_auroc < 0.6


def test_sample_is_bounded_and_deterministic(db: tuple[Client, Target]) -> None:
    request = MultivariateRequest("m", REF, CUR, max_rows=600, seed=3)
    a = multivariate_drift(db[0], db[1].database, request)
    b = multivariate_drift(db[0], db[1].database, request)
    assert 400 < a.reference_rows < 800 and 400 < a.windows[0].rows < 800
    assert a == b
    c = multivariate_drift(
        db[0], db[1].database, MultivariateRequest("m", REF, CUR, max_rows=600, seed=4)
    )
    assert c.reference_rows != a.reference_rows or c.windows[0].error != a.windows[0].error


def test_windows_over_time(db: tuple[Client, Target]) -> None:
    answer = multivariate_drift(
        db[0], db[1].database, MultivariateRequest("m", REF, CUR, window_ns=HOUR, classifier=False)
    )
    assert [w.rows for w in answer.windows] == [N // 2, N - N // 2] or sum(
        w.rows for w in answer.windows
    ) == N
    assert all(w.error.alert for w in answer.windows)


def test_alert_rule_and_gauge_report_the_reconstruction_error(db: tuple[Client, Target]) -> None:
    client, target = db
    measurer = Measurer(lambda: client, target.database, reference_s=2 * 3600, clock_ns=lambda: NOW)
    rule = AlertRule(name="mv", kind="multivariate.error", model="m", threshold=1.0, window="2h")
    assert rule.validate("r") == []
    want = (
        multivariate_drift(
            client, target.database, MultivariateRequest("m", REF, CUR, classifier=False)
        )
        .windows[0]
        .error
    )
    assert measurer(rule) == want.value
    cfg = DerivedConfig(drift=DerivedDriftConfig(window_s=2 * 3600, reference_s=2 * 3600))
    snapshot = compute.multivariate(client, target.database, "m", "", cfg, NOW)
    assert snapshot is not None and snapshot.alert and snapshot.error == want.value
