"""Drift on the real embedded engine: every score against scipy/numpy on the same data."""

from __future__ import annotations

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
    DriftRequest,
    EmptyWindowError,
    Window,
)
from driftline.analysis.drift.binning import fill_zeroes
from driftline.errors import InvalidInputError
from driftline.query.drift import drift_report, drift_reports
from driftline.storage.client import Target
from tests.engine_db import fresh_database

NOW = time.time_ns()
HOUR = 3600 * 10**9
REF = Window(NOW - 4 * HOUR, NOW - 2 * HOUR)
CUR = Window(NOW - 2 * HOUR, NOW)

rng = np.random.default_rng(7)
DATA: dict[str, tuple[str, Any, Any]] = {
    # name: (kind, ref values, cur values)
    "big_same": ("numerical", rng.normal(0, 1, 3000), rng.normal(0, 1, 2500)),
    "big_shift": ("numerical", rng.normal(0, 1, 3000), rng.normal(0.5, 1.2, 2500)),
    "small_shift": ("numerical", rng.normal(0, 1, 400), rng.normal(1, 1, 300)),
    "small_same": ("numerical", rng.normal(0, 1, 400), rng.normal(0, 1, 300)),
    "ints": (
        "numerical",
        rng.integers(0, 4, 3000).astype(float),
        rng.integers(0, 5, 2500).astype(float),
    ),
    "cat": (
        "categorical",
        rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2]),
        rng.choice(["a", "b", "c"], 2500, p=[0.2, 0.3, 0.5]),
    ),
    "cat_small": (
        "categorical",
        rng.choice(["a", "b", "c"], 200),
        rng.choice(["a", "b", "c", "new"], 150),
    ),
    "binary": ("categorical", rng.choice(["x", "y"], 300), rng.choice(["x", "y"], 300)),
    "const": ("numerical", np.full(2000, 3.0), np.full(2000, 3.0)),
    "huge": ("numerical", rng.normal(0, 1, 12000), rng.normal(0.03, 1, 11000)),
    # the current window larger than the reference (the finer quantile grid is the current's)
    "grown": ("numerical", rng.gamma(2.0, 1.0, 1500), rng.gamma(2.2, 1.0, 2600)),
}


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "drift") as (client, target):
        cols: dict[str, list[Any]] = {
            c: [] for c in ("ModelName", "Feature", "Timestamp", "Kind", "Value", "Category")
        }
        for name, (kind, ref, cur) in DATA.items():
            for start, vals in ((REF.start_ns, ref), (CUR.start_ns, cur)):
                n = len(vals)
                ts = start + (np.arange(n) * (2 * HOUR // (n + 1)))
                cols["ModelName"] += ["m"] * n
                cols["Feature"] += [name] * n
                cols["Timestamp"] += [int(t) for t in ts]
                cols["Kind"] += [kind] * n
                if kind == "numerical":
                    cols["Value"] += [float(v) for v in vals]
                    cols["Category"] += [""] * n
                else:
                    cols["Value"] += [float("nan")] * n
                    cols["Category"] += [str(v) for v in vals]
        # NaN/inf are dropped, as Evidently does
        for v in (float("nan"), float("inf"), -float("inf")):
            cols["ModelName"].append("m")
            cols["Feature"].append("big_same")
            cols["Timestamp"].append(CUR.start_ns + 5)
            cols["Kind"].append("numerical")
            cols["Value"].append(v)
            cols["Category"].append("")
        client.insert(
            "ml_features",
            [cols[c] for c in cols],
            column_names=list(cols),
            column_oriented=True,
            database=target.database,
        )
        yield client, target


def run(db: tuple[Client, Target], **kw: Any) -> dict[str, Any]:
    report = drift_report(db[0], db[1].database, DriftRequest("m", REF, CUR, **kw))
    return {f.feature: f for f in report.features}


def test_defaults_match_scipy(db: tuple[Client, Target]) -> None:
    res = run(db)
    for name in ("big_same", "big_shift", "grown", "huge"):
        _, r, c = DATA[name]
        want = stats.wasserstein_distance(r, c) / max(np.std(r), 0.001)
        assert res[name].method == "wasserstein"
        assert res[name].score == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert res[name].n_ref == len(r) and res[name].n_cur == len(c)
    for name in ("small_same", "small_shift"):
        _, r, c = DATA[name]
        assert res[name].method == "ks"
        assert res[name].score == pytest.approx(stats.ks_2samp(r, c)[1], rel=1e-9)
    assert res["big_shift"].drifted and not res["big_same"].drifted
    assert res["small_shift"].drifted and not res["small_same"].drifted
    # > 1000 reference rows, few uniques → JS on one bin per value
    for name in ("ints", "cat"):
        _, r, c = DATA[name]
        keys = sorted(set(r) | set(c))
        rp = np.array([np.sum(r == k) for k in keys]) / len(r)
        cp = np.array([np.sum(c == k) for k in keys]) / len(c)
        assert res[name].method == "jensenshannon"
        assert res[name].score == pytest.approx(distance.jensenshannon(rp, cp), rel=1e-9)
    assert res["cat"].drifted
    # small categorical with a category new in current: chisquare p = 0
    assert res["cat_small"].method == "chisquare" and res["cat_small"].score == 0.0
    assert res["binary"].method == "z"
    assert res["const"].method == "jensenshannon" and res["const"].score == 0.0


def test_wasserstein_features_plot_numpys_sturges_histograms(db: tuple[Client, Target]) -> None:
    """The plot bins of W1 features come from the sorted values of the W1 scan itself."""
    res = run(db, features=("big_shift", "grown", "const"))
    for name in ("big_shift", "grown"):
        _, r, c = DATA[name]
        edges = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        d = res[name].distribution
        assert res[name].method == "wasserstein" and d.edges == tuple(edges)
        assert d.ref_shares == tuple(np.histogram(r, edges)[0] / len(r))
        assert d.cur_shares == tuple(np.histogram(c, edges)[0] / len(c))
    assert res["const"].distribution.ref_shares == (1.0,)  # one value: numpy's single bin


def test_binned_methods_match_numpy(db: tuple[Client, Target]) -> None:
    _, r, c = DATA["big_shift"]
    edges = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
    rp = np.histogram(r, edges)[0] / len(r)
    cp = np.histogram(c, edges)[0] / len(c)
    res = run(db, features=("big_shift",), method="psi")["big_shift"]
    assert res.distribution.edges == tuple(edges)
    assert res.distribution.ref_shares == pytest.approx(tuple(rp), abs=0)
    fr, fc = fill_zeroes(rp), fill_zeroes(cp)
    assert res.score == pytest.approx(np.sum((fr - fc) * np.log(fr / fc)), rel=1e-12)
    kl = run(db, features=("big_shift",), method="kl_div")["big_shift"]
    assert kl.score == pytest.approx(stats.entropy(fr, fc), rel=1e-12)
    js = run(db, features=("big_shift",), method="jensenshannon")["big_shift"]
    assert js.score == pytest.approx(distance.jensenshannon(rp, cp), rel=1e-12)


def test_moment_and_raw_methods_match_scipy(db: tuple[Client, Target]) -> None:
    _, r, c = DATA["big_shift"]
    checks = {
        "t_test": stats.ttest_ind(r, c)[1],
        "mannw": stats.mannwhitneyu(r, c, alternative="less")[1],
        "ed": stats.energy_distance(r, c),
        "anderson": stats.anderson_ksamp([r, c])[2],
        "cramer_von_mises": stats.cramervonmises_2samp(r, c).pvalue,
        "ks": stats.ks_2samp(r, c)[1],
    }
    for method, want in checks.items():
        got = run(db, features=("big_shift",), method=method)["big_shift"].score
        assert got == pytest.approx(want, rel=1e-6, abs=1e-300), method


def test_categorical_tests_match_scipy(db: tuple[Client, Target]) -> None:
    _, r, c = DATA["cat"]
    keys = ["a", "b", "c"]
    rc = np.array([np.sum(r == k) for k in keys], dtype=float)
    cc = np.array([np.sum(c == k) for k in keys], dtype=float)
    got = run(db, features=("cat",), method="chisquare")["cat"].score
    assert got == pytest.approx(stats.chisquare(cc, rc * len(c) / len(r))[1], abs=1e-300)
    _, r, c = DATA["binary"]
    p1, p2 = np.mean(r != "x"), np.mean(c != "x")
    pooled = (p1 * len(r) + p2 * len(c)) / (len(r) + len(c))
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(r) + 1 / len(c)))
    got = run(db, features=("binary",))["binary"].score
    assert got == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))), rel=1e-9)
    fe = run(db, features=("binary",), method="fisher_exact")["binary"].score
    table = [[np.sum(c == "y"), np.sum(c == "x")], [np.sum(r == "y"), np.sum(r == "x")]]
    assert fe == pytest.approx(stats.fisher_exact(table)[1], rel=1e-9)


def test_overrides_precedence_and_dataset_drift(db: tuple[Client, Target]) -> None:
    report = drift_report(
        db[0],
        db[1].database,
        DriftRequest(
            "m",
            REF,
            CUR,
            features=("big_same", "big_shift", "cat"),
            threshold=0.1,
            num_threshold=0.2,
            feature_thresholds={"big_shift": 10.0},
        ),
    )
    by = {f.feature: f for f in report.features}
    assert by["big_shift"].threshold == 10.0 and not by["big_shift"].drifted
    assert by["big_same"].threshold == 0.2
    assert by["cat"].threshold == 0.1 and by["cat"].drifted
    assert report.n_drifted == 1 and report.share_drifted == pytest.approx(1 / 3)
    assert not report.dataset_drift


def test_errors(db: tuple[Client, Target]) -> None:
    with pytest.raises(InvalidInputError):
        run(db, features=("cat",), method="wasserstein")
    with pytest.raises(InvalidInputError):
        run(db, features=("cat",), method="nope")
    with pytest.raises(EmptyWindowError):
        run(db, features=("missing",))
    with pytest.raises(EmptyWindowError):
        drift_report(
            db[0], db[1].database, DriftRequest("m", REF, Window(NOW + HOUR, NOW + 2 * HOUR))
        )


def test_windows_one_query_each(db: tuple[Client, Target]) -> None:
    reports = drift_reports(
        db[0],
        db[1].database,
        DriftRequest("m", REF, CUR, features=("big_shift", "cat"), window_s=3600),
    )
    assert len(reports) == 2
    _, r, c = DATA["big_shift"]
    n_first = sum(1 for i in range(len(c)) if i * (2 * HOUR // (len(c) + 1)) < HOUR)
    first = {f.feature: f for f in reports[0].features}["big_shift"]
    assert first.n_cur == n_first
    want = stats.wasserstein_distance(r, c[:n_first]) / np.std(r)
    assert first.score == pytest.approx(want, rel=1e-9)


def test_overlapping_reference_counts_rows_on_both_sides(db: tuple[Client, Target]) -> None:
    whole = Window(REF.start_ns, CUR.end_ns)
    report = drift_report(
        db[0], db[1].database, DriftRequest("m", whole, CUR, features=("big_shift", "cat"))
    )
    by = {f.feature: f for f in report.features}
    _, r, c = DATA["big_shift"]
    both = np.concatenate([r, c])
    assert by["big_shift"].n_ref == len(both) and by["big_shift"].n_cur == len(c)
    want = stats.wasserstein_distance(both, c) / np.std(both)
    assert by["big_shift"].score == pytest.approx(want, rel=1e-9)


def test_reference_chunk_thresholds(db: tuple[Client, Target]) -> None:
    from driftline.query.drift import reference_thresholds

    req = DriftRequest("m", REF, CUR, features=("big_same", "cat"))
    thr = reference_thresholds(db[0], db[1].database, req, chunks=4)
    # independent: NannyML's CountBasedChunker(4, incomplete='append'): the reference in time
    # order cut into 4 chunks of n // 4 values (the remainder joins the last), each chunk's
    # wasserstein against the whole reference, then mean + 3 std (ddof 0)
    _, r, _ = DATA["big_same"]
    n = len(r)
    idx = np.minimum(np.arange(n) // (n // 4), 3)
    chunk_scores = [stats.wasserstein_distance(r, r[idx == i]) / np.std(r) for i in np.unique(idx)]
    want = np.mean(chunk_scores) + 3 * np.std(chunk_scores)
    assert thr["big_same"] == pytest.approx(want, rel=1e-9)
    assert thr["cat"] > 0


def test_ks_asymptotic_from_engine_d(db: tuple[Client, Target]) -> None:
    """> 10000 rows: scipy's auto mode is asymptotic, so D from the engine is enough."""
    _, r, c = DATA["huge"]
    got = run(db, features=("huge",), method="ks")["huge"].score
    assert got == pytest.approx(stats.ks_2samp(r, c)[1], rel=1e-9)
    w = run(db, features=("huge",))["huge"]
    assert w.score == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=1e-9)


def test_numerical_hellinger_uses_histograms_even_with_few_values(
    db: tuple[Client, Target],
) -> None:
    """Evidently's numerical hellinger bins the distinct values (Sturges, density) whatever
    the cardinality; the per-value formula is only for categorical columns."""
    _, r, c = DATA["ints"]
    edges = np.histogram_bin_edges(np.unique(np.concatenate([r, c])), bins="sturges")
    h1 = np.histogram(r, edges, density=True)[0]
    h2 = np.histogram(c, edges, density=True)[0]
    want = np.sqrt(1 - np.sum(np.sqrt(h1 * h2) * np.diff(edges)))
    got = run(db, features=("ints",), method="hellinger")["ints"].score
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(InvalidInputError, match="equal size"):
        run(db, features=("cat",), method="g_test")


def test_without_distributions_scores_are_unchanged(db: tuple[Client, Target]) -> None:
    full = run(db, features=("big_shift", "cat"))
    lean = run(db, features=("big_shift", "cat"), distributions=False)
    assert lean["big_shift"].score == full["big_shift"].score
    assert lean["big_shift"].distribution.ref_shares == ()
    assert lean["cat"].distribution == full["cat"].distribution  # value counts are needed anyway
    psi = run(db, features=("big_shift",), method="psi", distributions=False)["big_shift"]
    assert psi.distribution.edges  # binned methods still bin


def test_reference_chunks_have_equal_row_counts_on_a_bursty_reference(
    db: tuple[Client, Target],
) -> None:
    """#11.5: 1900 of 2003 reference rows arrive in the first minute. Equal wall-clock slices
    gave chunks of ~10 rows (thresholds far above any real drift); NannyML's chunks are equal
    row counts in time order (⌊2003/10⌋ = 200 each; the 3 left over join the last chunk,
    NannyML's incomplete='append')."""
    g = np.random.default_rng(11)
    ref = g.normal(0, 1, 2003)
    cats = g.choice(["a", "b", "c"], 2003, p=[0.5, 0.3, 0.2])
    burst = REF.start_ns + np.arange(1900, dtype=np.int64) * (60 * 10**9 // 1900)
    tail = REF.start_ns + 60 * 10**9 + np.arange(103, dtype=np.int64) * (HOUR // 103)
    ts = [int(t) for t in np.concatenate([burst, tail])]
    n = len(ts)
    client, target = db
    client.insert(
        "ml_features",
        [["bursty"] * 2 * n, ["x"] * n + ["c"] * n, ts * 2,
         ["numerical"] * n + ["categorical"] * n,
         [float(v) for v in ref] + [float("nan")] * n, [""] * n + [str(c) for c in cats]],
        column_names=["ModelName", "Feature", "Timestamp", "Kind", "Value", "Category"],
        column_oriented=True, database=target.database,
    )  # fmt: skip
    from driftline.query.drift import reference_thresholds

    thr = reference_thresholds(
        client, target.database, DriftRequest("bursty", REF, CUR, features=("x", "c")), chunks=10
    )
    idx = np.minimum(np.arange(n) // (n // 10), 9)
    assert np.bincount(idx).tolist() == [200] * 9 + [203]
    w1 = [stats.wasserstein_distance(ref, ref[idx == i]) / np.std(ref) for i in np.unique(idx)]
    assert thr["x"] == pytest.approx(np.mean(w1) + 3 * np.std(w1), rel=1e-9)
    keys = ["a", "b", "c"]

    def shares(x: np.ndarray) -> np.ndarray:
        return np.array([np.sum(x == k) for k in keys]) / len(x)

    js = [distance.jensenshannon(shares(cats), shares(cats[idx == i])) for i in np.unique(idx)]
    assert thr["c"] == pytest.approx(np.mean(js) + 3 * np.std(js), rel=1e-9)
    # sane: far below the normed W1 of a half-sigma shift (≈ 0.5)
    assert thr["x"] < 0.25
