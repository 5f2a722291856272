"""Evidently's drift methods, finished with numpy/scipy from what ClickHouse returns.

Each method is a function of a `Sample` pair (reference, current). A Sample carries what the
engine computed: the row count, moments, and either the value counts (categorical columns and
numerical columns with few distinct values) or the raw values (numerical columns with many).
Names, formulas, binning, zero-fill, thresholds and comparisons are Evidently 0.7's
(src/evidently/legacy/calculations/stattests/*, reference/anchors-ml.md §1.2–1.4):

    method             kinds      score                          default  drift when
    ks                 num        ks_2samp p-value               0.05     p <= t
    chisquare          cat (num)  chisquare p (ref scaled)       0.05     p < t
    z                  cat (num)  two-proportion z p             0.05     p < t
    wasserstein        num        W1 / max(std_ref, 0.001)       0.1      s >= t
    psi                cat, num   Σ (r−c)·ln(r/c), filled bins   0.1      s >= t
    kl_div             cat, num   entropy(r, c), filled bins     0.1      s >= t
    jensenshannon      cat, num   JS distance, unfilled bins     0.1      s >= t
    hellinger          cat, num   Hellinger distance             0.1      s >= t
    ed                 num        energy distance                0.1      s > t
    t_test             num        ttest_ind p (from moments)     0.05     p < t
    mannw              num        mannwhitneyu(less) p           0.05     p < t
    anderson           num        anderson_ksamp significance    0.1      p < t
    cramer_von_mises   num        cramervonmises_2samp p         0.1      p <= t
    fisher_exact       cat (2)    fisher_exact p                 0.1      p < t
    g_test             cat        G-test p (ref unscaled)        0.1      p < t
    TVD                cat        permutation p of TVD           0.1      p < t

Which inputs each needs: counts for the categorical and value-binned ones, moments for t_test,
raw values for ks, wasserstein, ed, mannw, anderson, cramer_von_mises and for the
Sturges-binned numerical psi/kl_div/jensenshannon/hellinger (Evidently's bin edges span the
*combined* range, so no reference histogram can be prepared before the current window is seen).
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import distance

from driftline.errors import InvalidInputError

Counts = dict[object, int]


@dataclass(frozen=True)
class Sample:
    """One side of a comparison, as much as the engine computed for it."""

    n: int
    counts: Counts | None = None  # value → count (NaN/inf already dropped)
    values: NDArray[np.float64] | None = None  # raw finite values (numerical only)
    mean: float = math.nan
    var: float = math.nan  # sample variance (ddof 1)

    def value_array(self) -> NDArray[np.float64]:
        if self.values is not None:
            return self.values
        if self.counts is not None:  # few distinct numbers: rebuild them exactly
            keys = np.array([float(k) for k in self.counts], dtype=np.float64)  # type: ignore[arg-type]
            return np.repeat(keys, [self.counts[k] for k in self.counts])
        raise InvalidInputError("this method needs the raw values")

    def count_map(self) -> Counts:
        if self.counts is not None:
            return self.counts
        if self.values is not None:
            keys, counts = np.unique(self.values, return_counts=True)
            return {float(k): int(c) for k, c in zip(keys, counts, strict=True)}
        raise InvalidInputError("this method needs value counts")


@dataclass(frozen=True)
class Binned:
    """The distributions as compared (and drawn): bin labels, reference and current shares."""

    labels: list[str]
    reference: list[float]
    current: list[float]


@dataclass(frozen=True)
class Score:
    value: float
    binned: Binned | None = None


@dataclass(frozen=True)
class Method:
    name: str
    display: str
    kinds: frozenset[str]
    threshold: float
    drifted: Callable[[float, float], bool]
    compute: Callable[[Sample, Sample, str], Score]
    binary_only: bool = field(default=False)


# ---- binning (Evidently's get_binned_data) ---------------------------------------------------


def sturges_edges(n: int, lo: float, hi: float) -> NDArray[np.float64]:
    """np.histogram_bin_edges(x, bins="sturges") for an x of size n spanning [lo, hi]."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5  # numpy's rule for an empty range
        return np.linspace(lo, hi, 2)
    width = (hi - lo) / (np.log2(n) + 1.0)
    bins = int(np.ceil((hi - lo) / width))
    return np.linspace(lo, hi, bins + 1, endpoint=True)


def _fill_zeroes(shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evidently's feel_zeroes: each 0 becomes min(nonzero)/1e6 if that is ≤ 1e-4, else 1e-4."""
    nonzero = shares[shares > 0]
    if nonzero.size == shares.size:
        return shares
    smallest = nonzero.min() if nonzero.size else 1e-4
    fill = smallest / 10**6 if smallest <= 1e-4 else 1e-4
    return np.where(shares == 0, fill, shares)


def binned(ref: Sample, cur: Sample, kind: str, fill: bool) -> Binned:
    if kind == "numerical" and _distinct(ref) > 20:
        r, c = ref.value_array(), cur.value_array()
        edges = sturges_edges(r.size + c.size, min(r.min(), c.min()), max(r.max(), c.max()))
        rs = np.histogram(r, edges)[0] / r.size
        cs = np.histogram(c, edges)[0] / c.size
        labels = [f"{a:.4g}…{b:.4g}" for a, b in itertools.pairwise(edges)]
    else:
        rc, cc = ref.count_map(), cur.count_map()
        keys = sorted(set(rc) | set(cc), key=_sort_key)
        rs = np.array([rc.get(k, 0) for k in keys], dtype=np.float64) / ref.n
        cs = np.array([cc.get(k, 0) for k in keys], dtype=np.float64) / cur.n
        labels = [_label(k) for k in keys]
    if fill:
        rs, cs = _fill_zeroes(rs), _fill_zeroes(cs)
    return Binned(labels, rs.tolist(), cs.tolist())


def _distinct(sample: Sample) -> int:
    if sample.counts is not None:
        return len(sample.counts)
    return int(np.unique(sample.value_array()).size)


def _sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ---- the methods -------------------------------------------------------------------------------


def _ks(ref: Sample, cur: Sample, kind: str) -> Score:
    return Score(float(stats.ks_2samp(ref.value_array(), cur.value_array())[1]))


def _wasserstein(ref: Sample, cur: Sample, kind: str) -> Score:
    r = ref.value_array()
    norm = max(float(np.std(r)), 0.001)
    return Score(float(stats.wasserstein_distance(r, cur.value_array())) / norm)


def _energy(ref: Sample, cur: Sample, kind: str) -> Score:
    return Score(float(stats.energy_distance(ref.value_array(), cur.value_array())))


def _mannw(ref: Sample, cur: Sample, kind: str) -> Score:
    r, c = ref.value_array(), cur.value_array()
    return Score(float(stats.mannwhitneyu(r, c, alternative="less")[1]))


def _anderson(ref: Sample, cur: Sample, kind: str) -> Score:
    r, c = ref.value_array(), cur.value_array()
    return Score(float(stats.anderson_ksamp([r, c]).significance_level))


def _cramer(ref: Sample, cur: Sample, kind: str) -> Score:
    return Score(float(stats.cramervonmises_2samp(ref.value_array(), cur.value_array()).pvalue))


def _t_test(ref: Sample, cur: Sample, kind: str) -> Score:
    if not (math.isnan(ref.mean) or math.isnan(cur.mean)):
        p = stats.ttest_ind_from_stats(
            ref.mean, math.sqrt(ref.var), ref.n, cur.mean, math.sqrt(cur.var), cur.n
        ).pvalue
    else:
        p = stats.ttest_ind(ref.value_array(), cur.value_array()).pvalue
    return Score(float(p))


def _keys(ref: Sample, cur: Sample) -> tuple[list[object], Counts, Counts]:
    rc, cc = ref.count_map(), cur.count_map()
    return sorted(set(rc) | set(cc), key=_sort_key), rc, cc


def _chisquare(ref: Sample, cur: Sample, kind: str) -> Score:
    keys, rc, cc = _keys(ref, cur)
    f_exp = np.array([rc.get(k, 0) for k in keys], dtype=np.float64) * cur.n / ref.n
    f_obs = np.array([cc.get(k, 0) for k in keys], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.chisquare(f_obs, f_exp).pvalue  # a category new in cur: f_exp 0 → p = 0
    return Score(0.0 if math.isnan(p) else float(p), binned(ref, cur, kind, fill=False))


def _z(ref: Sample, cur: Sample, kind: str) -> Score:
    keys, rc, cc = _keys(ref, cur)
    if len(rc) == 1 and len(cc) == 1 and set(rc) == set(cc):
        return Score(1.0)
    first = keys[0]
    p1 = (ref.n - rc.get(first, 0)) / ref.n  # indicator: value != first sorted key
    p2 = (cur.n - cc.get(first, 0)) / cur.n
    pooled = (p1 * ref.n + p2 * cur.n) / (ref.n + cur.n)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / ref.n + 1 / cur.n))
    return Score(float(2 * (1 - stats.norm.cdf(abs(z)))))


def _psi(ref: Sample, cur: Sample, kind: str) -> Score:
    b = binned(ref, cur, kind, fill=True)
    r, c = np.array(b.reference), np.array(b.current)
    return Score(float(np.sum((r - c) * np.log(r / c))), b)


def _kl(ref: Sample, cur: Sample, kind: str) -> Score:
    b = binned(ref, cur, kind, fill=True)
    return Score(float(stats.entropy(b.reference, b.current)), b)


def _js(ref: Sample, cur: Sample, kind: str) -> Score:
    b = binned(ref, cur, kind, fill=False)
    return Score(float(distance.jensenshannon(b.reference, b.current)), b)


def _hellinger(ref: Sample, cur: Sample, kind: str) -> Score:
    if kind == "categorical":
        keys, rc, cc = _keys(ref, cur)
        bc = sum(math.sqrt(rc.get(k, 0) / ref.n * cc.get(k, 0) / cur.n) for k in keys)
        return Score(math.sqrt(1 - min(bc, 1.0)), binned(ref, cur, kind, fill=False))
    r, c = ref.value_array(), cur.value_array()
    uniques = np.unique(np.concatenate([r, c]))
    edges = np.histogram_bin_edges(uniques, bins="sturges")
    h1 = np.histogram(r, bins=edges, density=True)[0]
    h2 = np.histogram(c, bins=edges, density=True)[0]
    bc = float(np.sum(np.sqrt(h1 * h2) * np.diff(edges)))
    return Score(math.sqrt(1 - min(bc, 1.0)), binned(ref, cur, kind, fill=False))


def _fisher(ref: Sample, cur: Sample, kind: str) -> Score:
    keys, rc, cc = _keys(ref, cur)
    if len(keys) > 2:
        raise InvalidInputError("fisher_exact needs a binary column (at most two values)")
    if ref.n != cur.n:
        raise InvalidInputError("fisher_exact needs reference and current of the same size")
    one = keys[-1]  # which value is "1" does not change the two-sided p-value
    table = [[cc.get(one, 0), cur.n - cc.get(one, 0)], [rc.get(one, 0), ref.n - rc.get(one, 0)]]
    return Score(float(stats.fisher_exact(table)[1]))


def _g_test(ref: Sample, cur: Sample, kind: str) -> Score:
    keys, rc, cc = _keys(ref, cur)
    f_obs = np.array([cc.get(k, 0) for k in keys], dtype=np.float64)
    f_exp = np.array([rc.get(k, 0) for k in keys], dtype=np.float64)
    try:
        p = stats.power_divergence(f_obs, f_exp, lambda_="log-likelihood").pvalue
    except ValueError as e:  # scipy refuses unequal totals, as Evidently would
        raise InvalidInputError(f"g_test: {e}") from e
    return Score(float(p))


def _tvd(ref: Sample, cur: Sample, kind: str) -> Score:
    """Evidently's permutation test (1000 permutations, seed 0) on the values rebuilt from
    their counts in sorted order. Evidently permutes the rows in their stored order, so the
    p-value matches it only up to permutation noise (≈ ±0.02)."""
    keys, rc, cc = _keys(ref, cur)
    index = {k: i for i, k in enumerate(keys)}
    r = np.repeat([index[k] for k in rc], list(rc.values()))
    c = np.repeat([index[k] for k in cc], list(cc.values()))

    def tvd(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
        pa = np.bincount(a, minlength=len(keys)) / a.size
        pb = np.bincount(b, minlength=len(keys)) / b.size
        return float(0.5 * np.abs(pa - pb).sum())

    observed = tvd(r, c)
    pooled = np.concatenate([r, c])
    np.random.seed(0)  # Evidently's seed, and its legacy global-RNG permutations
    hits = 0
    for _ in range(1000):
        perm = np.random.permutation(pooled)
        hits += tvd(perm[: r.size], perm[r.size :]) >= observed
    return Score(hits / 1000)


_LE, _LT, _GE, _GT = operator.le, operator.lt, operator.ge, operator.gt
NUM, CAT = frozenset({"numerical"}), frozenset({"categorical"})
BOTH = NUM | CAT

METHODS: Final[dict[str, Method]] = {
    m.name: m
    for m in (
        Method("ks", "K-S p_value", NUM, 0.05, _LE, _ks),
        Method("chisquare", "chi-square p_value", BOTH, 0.05, _LT, _chisquare),
        Method("z", "Z-test p_value", BOTH, 0.05, _LT, _z),
        Method("wasserstein", "Wasserstein distance (normed)", NUM, 0.1, _GE, _wasserstein),
        Method("psi", "PSI", BOTH, 0.1, _GE, _psi),
        Method("kl_div", "Kullback-Leibler divergence", BOTH, 0.1, _GE, _kl),
        Method("jensenshannon", "Jensen-Shannon distance", BOTH, 0.1, _GE, _js),
        Method("hellinger", "Hellinger distance", BOTH, 0.1, _GE, _hellinger),
        Method("ed", "Energy-distance", NUM, 0.1, _GT, _energy),
        Method("t_test", "t_test", NUM, 0.05, _LT, _t_test),
        Method("mannw", "Mann-Whitney U-rank test", NUM, 0.05, _LT, _mannw),
        Method("anderson", "Anderson-Darling", NUM, 0.1, _LT, _anderson),
        Method("cramer_von_mises", "Cramer-von Mises", NUM, 0.1, _LE, _cramer),
        Method("fisher_exact", "Fisher's Exact test", CAT, 0.1, _LT, _fisher, binary_only=True),
        Method("g_test", "g_test", CAT, 0.1, _LT, _g_test),
        Method("TVD", "Total-Variation-Distance", CAT, 0.1, _LT, _tvd),
    )
}
# Methods that need every raw value of a numerical column (no pushdown can replace them).
RAW_METHODS: Final = frozenset({"ks", "wasserstein", "ed", "mannw", "anderson", "cramer_von_mises"})


def default_method(kind: str, n_unique: int, n_reference: int) -> str:
    """Evidently's _get_default_stattest (anchors-ml.md §1.3)."""
    if n_reference > 1000:
        if kind == "numerical" and n_unique > 5:
            return "wasserstein"
        return "jensenshannon"
    if kind == "numerical" and n_unique > 5:
        return "ks"
    if kind == "numerical" and n_unique > 2:
        return "chisquare"
    if kind == "numerical":
        return "z"
    return "chisquare" if n_unique > 2 else "z"


def check_method(name: str, kind: str) -> Method:
    method = METHODS.get(name)
    if method is None:
        raise InvalidInputError(f"unknown drift method {name!r}; one of: {', '.join(METHODS)}")
    if kind not in method.kinds:
        raise InvalidInputError(f"method {name!r} does not apply to a {kind} column")
    return method
