"""Which figures a drift question needs: the pure half of `query/drift.py`'s plan → fetch → score.

From the first aggregates (stats, then value counts) the plan fixes, per (feature, window), the
method (the request's overrides in Evidently's precedence, else Evidently's default choice) and,
per feature, which of the engine's statements must run for it:

    low          one bin per value (categorical, or ≤ 20 reference uniques): value counts
    quantile_w1  wasserstein over one current window apart from the reference: exact W1 from
                 the two quantile functions, and the plot bins from the same scan
    hist         other numerical features that are binned (for plots, or psi / kl_div / js)
    w1ks         wasserstein otherwise, and ks with > 10000 rows: exact W1 and KS D
    raw          ed, anderson, cramer_von_mises, mannw, numerical hellinger, small ks

Sturges edges per (feature, window) follow from the stats alone (ref + that window's min,
max and count), so they are planned here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.analysis.drift.aggregates import REF, Counts, FloatArray, Stats
from driftline.analysis.drift.binning import LOW_CARDINALITY, sturges_edges
from driftline.analysis.drift.methods import Method, get_method
from driftline.analysis.drift.scores import KS_EXACT_MAX_N
from driftline.analysis.drift.selection import default_method
from driftline.analysis.drift.thresholds import resolve
from driftline.analysis.drift.types import DriftRequest
from driftline.errors import EmptyWindowError

RAW_METHODS = frozenset({"ed", "anderson", "cramer_von_mises", "mannw"})
BINNED_METHODS = frozenset({"psi", "kl_div", "jensenshannon"})


@dataclass(frozen=True)
class DriftPlan:
    features: tuple[str, ...]
    n_windows: int
    low: frozenset[str]
    methods: dict[tuple[str, int], Method]
    edges: dict[tuple[str, int], FloatArray]
    quantile_w1: tuple[str, ...]
    hist: tuple[str, ...]
    w1ks: tuple[str, ...]
    raw: tuple[str, ...]


def present_features(req: DriftRequest, stats: Stats, n_windows: int) -> tuple[str, ...]:
    """The features to score; a clear error when the reference (or the one current window)
    holds none of a feature's values."""
    features = tuple(req.features) or tuple(sorted(stats))
    if not features:
        raise EmptyWindowError(f"model {req.model!r} has no feature values in the windows")
    for f in features:
        if REF not in stats.get(f, {}):
            raise EmptyWindowError(f"feature {f!r} has no values in the reference window")
        if n_windows == 1 and 0 not in stats[f]:
            raise EmptyWindowError(f"feature {f!r} has no values in the current window")
    return features


def low_cardinality(features: tuple[str, ...], stats: Stats) -> frozenset[str]:
    """Features binned one bin per value: categorical, or ≤ 20 reference uniques."""
    return frozenset(
        f
        for f in features
        if stats[f][REF].kind == "categorical" or stats[f][REF].uniq <= LOW_CARDINALITY
    )


def choose_methods(
    req: DriftRequest, stats: Stats, counts: Counts, features: tuple[str, ...],
    low: frozenset[str], n_windows: int,
) -> dict[tuple[str, int], Method]:  # fmt: skip
    """The method of every (feature, window) that has current values."""
    per_kind = {"numerical": req.num_method or None, "categorical": req.cat_method or None}
    out = {}
    for f in features:
        ref = stats[f][REF]
        for w in range(n_windows):
            if w not in stats[f]:
                continue
            if f in low:
                n_unique = len(set(counts[f][REF]) | set(counts[f].get(w, {})))
            else:
                n_unique = max(ref.uniq, stats[f][w].uniq)
            chosen = resolve(f, ref.kind, req.feature_methods, per_kind, req.method or None)
            name = str(chosen) if chosen else default_method(ref.kind, n_unique, ref.n)
            out[f, w] = get_method(name, ref.kind)
    return out


def plan(
    req: DriftRequest, stats: Stats, counts: Counts, features: tuple[str, ...],
    low: frozenset[str], n_windows: int, rows_apart: bool,
) -> DriftPlan:  # fmt: skip
    """Methods, edges and the statements each feature needs (see the module docstring)."""
    k = n_windows
    methods = choose_methods(req, stats, counts, features, low, k)
    names = {f: {m.name for (g, _), m in methods.items() if g == f} for f in features}
    one_pass = k == 1 and rows_apart
    quantile_w1 = tuple(f for f in features if one_pass and "wasserstein" in names[f])
    binned = [
        f for f in features if f not in low and (req.distributions or names[f] & BINNED_METHODS)
    ]
    edges = {}
    for f in binned:
        for w in range(k):
            if w in stats[f]:
                a, b = stats[f][REF], stats[f][w]
                edges[f, w] = sturges_edges(min(a.lo, b.lo), max(a.hi, b.hi), a.n + b.n)

    def big(f: str) -> bool:
        return any(
            m.name == "ks" and max(stats[f][REF].n, stats[f][w].n) > KS_EXACT_MAX_N
            for (g, w), m in methods.items()
            if g == f
        )

    w1ks = tuple(
        f for f in features if ("wasserstein" in names[f] and f not in quantile_w1) or big(f)
    )
    raw = tuple(
        f
        for f in features
        if names[f] & RAW_METHODS
        or ("hellinger" in names[f] and stats[f][REF].kind == "numerical")
        or ("ks" in names[f] and f not in w1ks)
    )
    return DriftPlan(
        features, k, low, methods, edges, quantile_w1,
        tuple(f for f in binned if f not in quantile_w1), w1ks, raw,
    )  # fmt: skip
