"""Data and prediction drift per feature, aggregated in ClickHouse, scored as Evidently does.

Entry points: `drift_report(client, database, DriftRequest)` → `DriftReport` and
`drift_reports(...)` → one report per `window_s` window of the current range.
"""

from driftline.analysis.drift.engine import (
    EmptyWindowError,
    drift_report,
    drift_reports,
    reference_thresholds,
)
from driftline.analysis.drift.types import (
    Distribution,
    DriftReport,
    DriftRequest,
    FeatureDrift,
    Window,
)

__all__ = [
    "Distribution",
    "DriftReport",
    "DriftRequest",
    "EmptyWindowError",
    "FeatureDrift",
    "Window",
    "drift_report",
    "drift_reports",
    "reference_thresholds",
]
