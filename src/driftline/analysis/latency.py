"""Latency answers from the engine's aggregates: SLO burn rates and version regression.

Pure: typed figures in, typed answers out (percentiles themselves are exact in the engine,
`quantilesExactInclusive`: numpy's linear interpolation). Burn rate = (bad / total) /
(1 − target) over the Google SRE workbook's window pairs (anchors-ml.md §5): 1h & 5m at 14.4×
and 6h & 30m at 6× page, 3d & 6h at 1× makes a ticket; a pair alerts when both of its windows
exceed its factor. A regression between two versions is a two-sided Mann-Whitney U test on their
durations, with Cliff's delta as the effect size (positive: the candidate is slower).

The U test's p is scipy's (`mannwhitneyu(base, cand, alternative="two-sided")`): from U and the
tie term Σ(t³ − t) with the normal approximation and continuity correction, as a survival
function (`norm.sf`) so tiny p-values do not underflow to 0 (the engine's own p does); when a
side has ≤ 8 values, scipy's exact path on the values themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats

# (name, long window s, short window s, factor)
BURN_PAIRS: Final = (("1h", 3600, 300, 14.4), ("6h", 21600, 1800, 6.0), ("3d", 259200, 21600, 1.0))
EXACT_MAX_N: Final = 8  # scipy's mannwhitneyu 'auto' is exact when a side has ≤ 8 values


@dataclass(frozen=True)
class LatencyRow:
    keys: dict[str, Any]
    count: int
    error_rate: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Slo:
    model: str
    threshold_ms: float
    target: float  # e.g. 0.99 of requests good
    version: str = ""


@dataclass(frozen=True)
class BurnWindow:
    name: str
    long_s: int
    short_s: int
    factor: float
    long_burn: float
    short_burn: float

    @property
    def alerting(self) -> bool:
        return self.long_burn > self.factor and self.short_burn > self.factor


@dataclass(frozen=True)
class SloStatus:
    slo: Slo
    windows: list[BurnWindow] = field(default_factory=list)

    @property
    def page(self) -> bool:
        return any(w.alerting for w in self.windows if w.factor > 1)

    @property
    def ticket(self) -> bool:
        return any(w.alerting for w in self.windows if w.factor <= 1)


@dataclass(frozen=True)
class Regression:
    baseline: str
    candidate: str
    n_baseline: int
    n_candidate: int
    p50_ms: tuple[float, float]
    p99_ms: tuple[float, float]
    p_value: float
    cliffs_delta: float
    slower: bool


@dataclass(frozen=True)
class VersionSamples:
    """The engine's figures for two versions' durations (ns). `u` counts the pairs where the
    baseline is larger (ties count half); `tie_term` is Σ(t³ − t) over groups of equal
    durations in the pooled sample; `values` holds both samples when a side is small."""

    n_baseline: int
    n_candidate: int
    quantiles_baseline: tuple[float, float]  # p50, p99
    quantiles_candidate: tuple[float, float]
    u: float
    tie_term: float
    values: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None


def burn_windows() -> list[int]:
    """Every window length a burn-rate answer needs, in seconds, ascending."""
    return sorted({s for _, lng, sht, _ in BURN_PAIRS for s in (lng, sht)})


def slo_status(slo: Slo, totals: dict[int, int], bads: dict[int, int]) -> SloStatus:
    """Burn rates per window pair from total and bad counts per window length (seconds)."""
    burn = {w: (bads[w] / t) / (1 - slo.target) if t else 0.0 for w, t in totals.items()}
    return SloStatus(
        slo, [BurnWindow(n, lng, sht, f, burn[lng], burn[sht]) for n, lng, sht, f in BURN_PAIRS]
    )


def mann_whitney_p(u_baseline: float, n1: int, n2: int, tie_term: float) -> float:
    """scipy's asymptotic two-sided p (continuity-corrected, tie-corrected), via norm.sf."""
    n = n1 + n2
    u = max(u_baseline, n1 * n2 - u_baseline)
    mu = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (u - mu - 0.5) / math.sqrt(var)
    return float(min(1.0, 2 * stats.norm.sf(z)))


def regression(baseline: str, candidate: str, s: VersionSamples, alpha: float = 0.05) -> Regression:
    n_b, n_c = s.n_baseline, s.n_candidate
    if s.values is not None:
        p = float(stats.mannwhitneyu(*s.values, alternative="two-sided").pvalue)
    else:
        p = mann_whitney_p(s.u, n_b, n_c, s.tie_term)
    # Cliff's delta P(cand > base) - P(cand < base) follows from U (ties split evenly)
    delta = 1 - 2 * s.u / (n_b * n_c)
    q_b, q_c = s.quantiles_baseline, s.quantiles_candidate
    return Regression(
        baseline, candidate, n_b, n_c, (q_b[0] / 1e6, q_c[0] / 1e6), (q_b[1] / 1e6, q_c[1] / 1e6),
        p, delta, p < alpha and delta > 0,
    )  # fmt: skip
