"""Drift finishing code against independent scipy/numpy computations (no engine)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from driftline.analysis.drift import scores
from driftline.analysis.drift.binning import fill_zeroes, sturges_edges, value_shares
from driftline.analysis.drift.methods import METHODS, get_method
from driftline.analysis.drift.selection import default_method
from driftline.analysis.drift.thresholds import resolve, std_threshold
from driftline.errors import InvalidInputError

rng = np.random.default_rng(1)


@pytest.mark.parametrize("n", [2, 7, 100, 5000, 999_999])
def test_sturges_edges_equal_numpy(n: int) -> None:
    x = rng.normal(3, 2, n)
    assert np.array_equal(sturges_edges(x.min(), x.max(), n), np.histogram_bin_edges(x, "sturges"))
    const = np.full(n, 4.0)
    assert np.array_equal(sturges_edges(4.0, 4.0, n), np.histogram_bin_edges(const, "sturges"))


def test_fill_zeroes_rule() -> None:
    assert list(fill_zeroes([0.5, 0.5, 0.0])) == [0.5, 0.5, 0.0001]
    assert list(fill_zeroes([0.99995, 0.00005, 0.0])) == [0.99995, 0.00005, 0.00005 / 1e6]


def test_default_selection_table() -> None:
    assert default_method("numerical", 6, 1000) == "ks"
    assert default_method("numerical", 6, 1001) == "wasserstein"
    assert default_method("numerical", 5, 1000) == "chisquare"
    assert default_method("numerical", 2, 1000) == "z"
    assert default_method("numerical", 2, 5000) == "jensenshannon"
    assert default_method("categorical", 3, 10) == "chisquare"
    assert default_method("categorical", 2, 10) == "z"
    assert default_method("categorical", 50, 1001) == "jensenshannon"


def test_registry_directions() -> None:
    assert METHODS["ks"].drifted(0.05, 0.05) and not METHODS["chisquare"].drifted(0.05, 0.05)
    assert METHODS["wasserstein"].drifted(0.1, 0.1) and not METHODS["ed"].drifted(0.1, 0.1)
    assert METHODS["cramer_von_mises"].drifted(0.1, 0.1)
    assert len(METHODS) == 16
    with pytest.raises(InvalidInputError):
        get_method("ks", "categorical")
    with pytest.raises(InvalidInputError):
        get_method("bogus", "numerical")


def test_threshold_precedence() -> None:
    assert resolve("a", "numerical", {"a": 1}, {"numerical": 2}, 3) == 1
    assert resolve("b", "numerical", {"a": 1}, {"numerical": 2}, 3) == 2
    assert resolve("b", "categorical", {"a": 1}, {"numerical": 2}, 3) == 3
    assert resolve("b", "categorical", {}, {}, None) is None


def test_std_threshold_ddof0() -> None:
    xs = [0.1, 0.2, 0.15, 0.12]
    assert std_threshold(xs) == pytest.approx(np.mean(xs) + 3 * np.std(xs))
    assert std_threshold(xs, upper=False) == pytest.approx(np.mean(xs) - 3 * np.std(xs))


def _counts(a: np.ndarray) -> dict[object, int]:
    return dict(Counter(a.tolist()))


def test_count_methods_equal_scipy() -> None:
    r = rng.choice(["a", "b", "c", "d"], 500, p=[0.4, 0.3, 0.2, 0.1])
    c = rng.choice(["a", "b", "c", "d"], 400, p=[0.25, 0.25, 0.25, 0.25])
    rc, cc = _counts(r), _counts(c)
    keys = sorted(set(rc) | set(cc))
    ro = np.array([rc.get(k, 0) for k in keys], dtype=float)
    co = np.array([cc.get(k, 0) for k in keys], dtype=float)
    assert scores.chisquare(rc, cc) == pytest.approx(stats.chisquare(co, ro * 400 / 500)[1])
    _, rs, cs = value_shares(rc, cc)
    assert scores.jensenshannon(rs, cs) == pytest.approx(distance.jensenshannon(ro / 500, co / 400))
    fr, fc = fill_zeroes(rs), fill_zeroes(cs)
    assert scores.psi(rs, cs) == pytest.approx(np.sum((fr - fc) * np.log(fr / fc)))
    assert scores.kl_div(rs, cs) == pytest.approx(stats.entropy(fr, fc))
    assert 0 <= scores.tvd(rc, cc, iterations=200) <= 0.05
    assert scores.chisquare({"a": 5, "b": 5}, {"a": 5, "z": 1}) == 0.0  # new category


def test_z_constant_and_moments() -> None:
    assert scores.z_test({"x": 10}, {"x": 7}) == 1.0
    r, c = rng.normal(0, 1, 300), rng.normal(0.3, 1.5, 200)
    got = scores.t_test(r.mean(), r.var(ddof=1), 300, c.mean(), c.var(ddof=1), 200)
    assert got == pytest.approx(stats.ttest_ind(r, c)[1], rel=1e-9)
    assert scores.ks_asymptotic(
        stats.ks_2samp(np.r_[r, r, r] * 1, c).statistic, 900, 200
    ) == pytest.approx(stats.ks_2samp(np.r_[r, r, r], c, method="asymp")[1], rel=1e-9)
    assert scores.wasserstein_normed(0.5, 0.0) == 500.0
