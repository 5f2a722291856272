"""Evidently's `get_binned_data` (anchors-ml.md §1.4), split so the counting runs in the engine.

Numerical columns with more than 20 distinct *reference* values are binned on Sturges
equal-width edges over the combined ref ∪ cur min..max, so the edges depend on the current
window: they are computed here from the engine's min/max/count (`sturges_edges`), then the
engine counts rows per bin with the same half-open rule as `np.histogram` (last bin closed).
Everything else gets one bin per distinct value of the union (`value_shares`). PSI and KL then
replace empty bins with `fill_zeroes` ("feel_zeroes"); JS does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
LOW_CARDINALITY = 20  # ref.nunique() above this → Sturges bins, else one bin per value


def sturges_edges(lo: float, hi: float, n_total: int) -> FloatArray:
    """`np.histogram_bin_edges(concat(ref, cur), bins="sturges")` from min, max and the row
    count only, with numpy's own float steps so the edges are bit-identical."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, 2, endpoint=True)
    width = (hi - lo) / (np.log2(n_total) + 1.0)
    n_bins = int(np.ceil((hi - lo) / width)) if width else 1
    return np.linspace(lo, hi, n_bins + 1, endpoint=True)


def value_shares(
    ref_counts: Mapping[object, int], cur_counts: Mapping[object, int]
) -> tuple[list[object], FloatArray, FloatArray]:
    """One bin per distinct value of ref ∪ cur (sorted keys), as shares of each side."""
    keys = sorted(set(ref_counts) | set(cur_counts), key=lambda k: (str(type(k)), k))
    n_ref = sum(ref_counts.values())
    n_cur = sum(cur_counts.values())
    ref = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64) / n_ref
    cur = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64) / n_cur
    return keys, ref, cur


def fill_zeroes(shares: Sequence[float] | FloatArray) -> FloatArray:
    """Evidently's feel_zeroes: every 0 becomes min(nonzero)/1e6 if that min ≤ 1e-4, else 1e-4;
    each sample is filled on its own."""
    out = np.array(shares, dtype=np.float64)
    nonzero = out[out != 0]
    if nonzero.size == 0:
        return out
    smallest = float(nonzero.min())
    np.place(out, out == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return out
