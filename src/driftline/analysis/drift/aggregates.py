"""The small aggregates a drift question is answered from, as storage/drift_rows.py returns them.

Every figure is keyed by *side*: `REF` (-1) for the reference, 0…k-1 for the current windows.
The engine computes them (storage/drift_sql.py says how); nothing here knows a client or SQL.

    stats     per (feature, side): kind, rows, capped distinct count, min/max, moments
    counts    per (feature, side): value → rows (categorical / low-cardinality features)
    bins      per (feature, window, side): Sturges bin index → rows
    w1        per (feature, window): exact W1 and KS D (either may be NaN when not computed)
    raw       per (feature, side): the finite values themselves, for the few methods that
              need them
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

REF = -1  # the side of the reference; current windows are 0…k-1

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SideStats:
    kind: str  # numerical | categorical
    n: int
    uniq: int  # exact up to 21; 22 means "more than 21"
    lo: float
    hi: float
    mean: float
    var: float  # sample variance (ddof 1)
    std_pop: float  # population std (ddof 0)


@dataclass(frozen=True, slots=True)
class BinSpec:
    """Equal-width bins as the engine evaluates them: edge i is i·step + lo, the last is hi."""

    lo: float
    step: float
    hi: float
    n_bins: int

    @classmethod
    def of(cls, edges: FloatArray) -> BinSpec:
        nb = len(edges) - 1
        return cls(float(edges[0]), float((edges[-1] - edges[0]) / nb), float(edges[-1]), nb)


Stats = dict[str, dict[int, SideStats]]
Counts = dict[str, dict[int, dict[object, int]]]
Bins = dict[tuple[str, int, int], dict[int, int]]
W1 = dict[tuple[str, int], tuple[float, float]]
Raw = dict[tuple[str, int], FloatArray]


@dataclass
class Aggregates:
    """Everything fetched for one drift question (filled step by step by query/drift.py)."""

    stats: Stats
    counts: Counts = field(default_factory=dict)
    bins: Bins = field(default_factory=dict)
    w1: W1 = field(default_factory=dict)
    raw: Raw = field(default_factory=dict)

    def side_counts(self, feature: str, side: int) -> dict[object, int]:
        return self.counts.get(feature, {}).get(side, {})

    def bin_counts(self, feature: str, window: int, side: int) -> dict[int, int]:
        return self.bins.get((feature, window, side), {})


def n_sides(stats: Stats) -> int:
    """How many current windows the stats cover (1 + the highest current side seen)."""
    return 1 + max((s for sides in stats.values() for s in sides if s != REF), default=0)


__all__ = [
    "REF",
    "W1",
    "Aggregates",
    "BinSpec",
    "Bins",
    "Counts",
    "FloatArray",
    "Raw",
    "SideStats",
    "Stats",
    "n_sides",
]  # fmt: skip
