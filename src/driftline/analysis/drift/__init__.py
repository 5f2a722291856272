"""Data and prediction drift per feature, scored as Evidently does — pure math, no I/O.

A drift question is answered in three steps (query/drift.py runs them): `plan` decides from
the first aggregates which figures each feature needs, storage/drift_rows.py fetches them as
`aggregates` types, and `score` turns them into one `DriftReport` per current window.

    types        request and result (Window, DriftRequest, FeatureDrift, DriftReport)
    aggregates   what the engine returns (SideStats, value counts, bin counts, W1/KS D, values)
    plan         methods per (feature, window) and the statements each feature needs
    score        aggregates → FeatureDrift / DriftReport
    scores       the statistics, one per Evidently stattest
    methods, selection, thresholds, binning   Evidently's registry, default choice, threshold
                 precedence (and NannyML's chunk thresholds), binning rules
"""

from driftline.analysis.drift.types import (
    Distribution,
    DriftReport,
    DriftRequest,
    FeatureDrift,
    Window,
)
from driftline.errors import EmptyWindowError

__all__ = [
    "Distribution",
    "DriftReport",
    "DriftRequest",
    "EmptyWindowError",
    "FeatureDrift",
    "Window",
]
