"""analysis/drift without an engine: aggregates built here with numpy → plan → score, checked
against scipy on the same samples (the engine's part is tested in tests/integration)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from driftline.analysis.drift import DriftRequest, Window
from driftline.analysis.drift.aggregates import REF, Aggregates, SideStats
from driftline.analysis.drift.plan import low_cardinality, plan, present_features
from driftline.analysis.drift.score import score_windows
from driftline.errors import EmptyWindowError

g = np.random.default_rng(8)
SAMPLES = {
    "x": (g.normal(0, 1, 2000), g.normal(0.4, 1, 1500)),  # > 1000 ref rows: wasserstein
    "s": (g.normal(0, 1, 300), g.normal(0.1, 1, 200)),  # ≤ 1000: ks on the raw values
    "c": (g.choice(["a", "b", "c"], 2000), g.choice(["a", "b", "c"], 1500, p=[0.6, 0.2, 0.2])),
}


def side_stats(values: np.ndarray) -> SideStats:
    if values.dtype.kind in "US":
        return SideStats("categorical", len(values), min(len(set(values)), 22), *[math.nan] * 5)
    return SideStats(
        "numerical", len(values), min(len(np.unique(values)), 22), float(values.min()),
        float(values.max()), float(values.mean()), float(values.var(ddof=1)), float(values.std()),
    )  # fmt: skip


def counts(values: np.ndarray) -> dict[object, int]:
    keys, n = np.unique(values, return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, n, strict=True)}


def test_plan_then_score_equals_scipy() -> None:
    req = DriftRequest("m", Window(0, 1), Window(1, 2))
    agg = Aggregates({f: {REF: side_stats(r), 0: side_stats(c)} for f, (r, c) in SAMPLES.items()})
    features = present_features(req, agg.stats, 1)
    low = low_cardinality(features, agg.stats)
    assert low == {"c"}
    agg.counts = {"c": {REF: counts(SAMPLES["c"][0]), 0: counts(SAMPLES["c"][1])}}
    p = plan(req, agg.stats, agg.counts, features, low, 1, rows_apart=True)
    assert p.quantile_w1 == ("x",) and p.raw == ("s",) and p.hist == ("s",)
    for f in ("x", "s"):  # what the engine would count: np.histogram on the planned edges
        r, c = SAMPLES[f]
        for side, v in ((REF, r), (0, c)):
            agg.bins[f, 0, side] = dict(enumerate(np.histogram(v, p.edges[f, 0])[0].tolist()))
    r, c = SAMPLES["x"]
    agg.w1["x", 0] = (float(stats.wasserstein_distance(r, c)), math.nan)
    agg.raw = {("s", REF): SAMPLES["s"][0], ("s", 0): SAMPLES["s"][1]}
    (report,) = score_windows(req, p, agg, [(1, 2)])
    got = {f.feature: f for f in report.features}
    assert got["x"].method == "wasserstein"
    assert got["x"].score == pytest.approx(stats.wasserstein_distance(r, c) / np.std(r), rel=1e-12)
    assert got["x"].drifted
    assert got["s"].score == pytest.approx(stats.ks_2samp(*SAMPLES["s"]).pvalue, rel=1e-12)
    rc, cc = SAMPLES["c"]
    shares = [np.array([np.mean(v == k) for k in "abc"]) for v in (rc, cc)]
    assert got["c"].method == "jensenshannon"
    assert got["c"].score == pytest.approx(distance.jensenshannon(*shares), rel=1e-12)
    edges = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
    np.testing.assert_array_equal(got["x"].distribution.edges, edges)
    assert got["x"].distribution.ref_shares == pytest.approx(np.histogram(r, edges)[0] / len(r))


def test_a_feature_missing_from_the_reference_is_a_clear_error() -> None:
    req = DriftRequest("m", Window(0, 1), Window(1, 2), features=("x",))
    with pytest.raises(EmptyWindowError, match="reference window"):
        present_features(req, {"x": {0: side_stats(SAMPLES["x"][1])}}, 1)
