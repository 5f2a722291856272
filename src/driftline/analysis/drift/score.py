"""Scoring: the planned methods applied to the fetched aggregates → one `DriftReport` per window.

Pure: `DriftPlan` and `Aggregates` in, reports out. Each feature's distribution (per-value
shares, or Sturges bin shares with their edges) comes back for plotting whatever the method.
Which figure a method reads:

    t_test         moments (stats)           wasserstein     exact W1 from the engine
    ks > 10000     KS D from the engine      raw methods     the values themselves
    low features   value counts              other binned    Sturges bin shares
"""

from __future__ import annotations

import numpy as np

from driftline.analysis.drift import scores
from driftline.analysis.drift.aggregates import REF, Aggregates, FloatArray
from driftline.analysis.drift.binning import value_shares
from driftline.analysis.drift.methods import Method
from driftline.analysis.drift.plan import RAW_METHODS, DriftPlan
from driftline.analysis.drift.thresholds import resolve
from driftline.analysis.drift.types import (
    Distribution,
    DriftReport,
    DriftRequest,
    FeatureDrift,
)
from driftline.errors import InvalidInputError

COUNT_METHODS = frozenset({"chisquare", "z", "g_test", "fisher_exact", "TVD"})


def window_bounds(req: DriftRequest, n_windows: int) -> list[tuple[int, int]]:
    """[start, end) of every current window: `window_s` slices of the current range (the last
    one cut at its end), or the whole range."""
    if req.window_s <= 0:
        return [(req.current.start_ns, req.current.end_ns)] * n_windows
    span = req.window_s * 1_000_000_000
    starts = [req.current.start_ns + w * span for w in range(n_windows)]
    return [(s, min(s + span, req.current.end_ns)) for s in starts]


def score_windows(
    req: DriftRequest, plan: DriftPlan, agg: Aggregates, bounds: list[tuple[int, int]]
) -> list[DriftReport]:
    """One report per current window; a window without current values has no features."""
    reports = []
    for w, (start, end) in enumerate(bounds):
        found = tuple(
            score_feature(req, plan, agg, f, w) for f in plan.features if (f, w) in plan.methods
        )
        reports.append(DriftReport(req.model, start, end, found, req.drift_share))
    return reports


def distribution(plan: DriftPlan, agg: Aggregates, f: str, w: int) -> Distribution:
    if f in plan.low:
        labels, rs, cs = value_shares(agg.side_counts(f, REF), agg.side_counts(f, w))
        return Distribution((), tuple(str(x) for x in labels), _floats(rs), _floats(cs))
    if (f, w) not in plan.edges:
        return Distribution((), (), (), ())
    edges = plan.edges[f, w]
    nb = len(edges) - 1
    a, b = agg.stats[f][REF], agg.stats[f][w]
    ref, cur = agg.bin_counts(f, w, REF), agg.bin_counts(f, w, w)
    rs = np.array([ref.get(i, 0) for i in range(nb)]) / a.n
    cs = np.array([cur.get(i, 0) for i in range(nb)]) / b.n
    return Distribution(tuple(float(x) for x in edges), (), _floats(rs), _floats(cs))


def score_feature(
    req: DriftRequest, plan: DriftPlan, agg: Aggregates, f: str, w: int
) -> FeatureDrift:
    m = plan.methods[f, w]
    a, b = agg.stats[f][REF], agg.stats[f][w]
    dist = distribution(plan, agg, f, w)
    try:
        score = _score(m, plan, agg, f, w, dist)
    except ValueError as exc:
        raise InvalidInputError(f"{m.name} on feature {f!r}: {exc}") from exc
    per_kind = {"numerical": req.num_threshold, "categorical": req.cat_threshold}
    thr = resolve(f, a.kind, req.feature_thresholds, per_kind, req.threshold)
    threshold = float(thr) if isinstance(thr, int | float) else m.default_threshold
    return FeatureDrift(
        f, a.kind, m.name, m.display_name, score, threshold, m.drifted(score, threshold),
        a.n, b.n, dist,
    )  # fmt: skip


def _score(m: Method, plan: DriftPlan, agg: Aggregates, f: str, w: int, d: Distribution) -> float:
    a, b = agg.stats[f][REF], agg.stats[f][w]
    name = m.name
    if name == "t_test":
        return scores.t_test(a.mean, a.var, a.n, b.mean, b.var, b.n)
    if name == "wasserstein":
        return scores.wasserstein_normed(agg.w1[f, w][0], a.std_pop)
    if name == "ks" and (f, w) in agg.w1:
        return scores.ks_asymptotic(agg.w1[f, w][1], a.n, b.n)
    numerical_hellinger = name == "hellinger" and a.kind == "numerical"
    if (f, w) in agg.raw and (name in RAW_METHODS or name == "ks" or numerical_hellinger):
        return scores.from_values(name, agg.raw[f, REF], agg.raw[f, w])
    if f in plan.low:
        return scores.from_counts(name, agg.side_counts(f, REF), agg.side_counts(f, w))
    if name in COUNT_METHODS:
        raise ValueError("needs a categorical or low-cardinality column")
    return scores.from_shares(name, np.asarray(d.ref_shares), np.asarray(d.cur_shares))


def _floats(xs: FloatArray) -> tuple[float, ...]:
    return tuple(map(float, xs))
