"""Which threshold (and method) applies to a feature, and NannyML-style reference thresholds.

Precedence is Evidently's (`DataDriftOptions`, anchors-ml.md §1.6): per-feature > per-kind
(num/cat) > request-wide > the method's default. The NannyML alternative derives a threshold
from the reference itself: the score of every reference chunk against the whole reference,
then mean ± 3·std (ddof 0, `np.nanstd`) of those scores (anchors-ml.md §2.1–2.2); only the
side that means drift is used (upper for distances, lower for p-values).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from driftline.analysis.drift.methods import get_method
from driftline.analysis.drift.types import DriftReport


def resolve(
    feature: str,
    kind: str,
    per_feature: Mapping[str, object],
    per_kind: Mapping[str, object],
    global_value: object,
) -> object:
    """The first set value in Evidently's order; None when nothing overrides."""
    if feature in per_feature:
        return per_feature[feature]
    if per_kind.get(kind) is not None:
        return per_kind[kind]
    return global_value


def std_threshold(
    chunk_scores: Sequence[float], multiplier: float = 3.0, upper: bool = True
) -> float:
    """mean ± multiplier·std of the reference chunks' scores (ddof 0, NaN ignored)."""
    arr = np.asarray(chunk_scores, dtype=np.float64)
    mean, std = float(np.nanmean(arr)), float(np.nanstd(arr))
    return mean + multiplier * std if upper else mean - multiplier * std


def chunk_thresholds(chunks: Iterable[DriftReport], multiplier: float = 3.0) -> dict[str, float]:
    """Per feature, `std_threshold` of its scores over the reference chunks (one report per
    chunk): the upper side for distances, the lower side for p-values."""
    scores: dict[str, list[float]] = defaultdict(list)
    p_value: dict[str, bool] = {}
    for report in chunks:
        for f in report.features:
            scores[f.feature].append(f.score)
            p_value[f.feature] = get_method(f.method, f.kind).p_value
    return {f: std_threshold(s, multiplier, upper=not p_value[f]) for f, s in scores.items()}
