"""A Snapshot as named gauge series: the one place that names the derived metrics.

OTLP names follow OpenTelemetry's conventions: dotted, the unit in the `unit` field, not in the
name (latency in seconds, unit `s`, like `http.server.request.duration`). The Prometheus names
are what Prometheus' own OTLP translation makes of them: dots → underscores, plus `_seconds` for
unit `s`.

  OTLP name                  unit         attributes                      Prometheus name
  driftline.drift.score      1            model version feature method    driftline_drift_score
  driftline.drift.threshold  1            model version feature method    driftline_drift_threshold
  driftline.drift.share      1            model version                   driftline_drift_share
  driftline.drift.detected   1            model version (0 or 1)          driftline_drift_detected
  driftline.latency          s            model version quantile          driftline_latency_seconds
  driftline.error_rate       1            model version                   driftline_error_rate
  driftline.inferences       {inference}  model version (latency_window)  driftline_inferences
  driftline.slo.burn_rate    1            model version slo window        driftline_slo_burn_rate
  driftline.quality.missing_share       model version feature  (unit 1)
  driftline.quality.unseen_share        model version feature
  driftline.quality.out_of_range_share  model version feature
  driftline.quality.flagged             model version (0 or 1)
  driftline.multivariate.error          model version
  driftline.multivariate.threshold      model version
  (Prometheus: the same names with dots → underscores)

Drift scores are the method's own statistic: a distance (higher = more drift) or a p-value
(lower = more drift; `ks`, `chisquare`, `z`, ...): compare with driftline.drift.threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from driftline.export.derived.types import Snapshot


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str  # OTLP
    unit: str
    description: str
    labels: tuple[str, ...]

    @property
    def prometheus_name(self) -> str:
        base = self.name.replace(".", "_")
        return base + "_seconds" if self.unit == "s" else base


_MV = ("model", "version")
DRIFT_SCORE: Final = MetricSpec(
    "driftline.drift.score", "1", "Drift score of a feature (the method's statistic).",
    (*_MV, "feature", "method"),
)  # fmt: skip
DRIFT_THRESHOLD: Final = MetricSpec(
    "driftline.drift.threshold", "1", "Threshold the feature's drift score is compared with.",
    (*_MV, "feature", "method"),
)  # fmt: skip
DRIFT_SHARE: Final = MetricSpec(
    "driftline.drift.share", "1", "Share of the model's features that drifted.", _MV
)
DRIFT_DETECTED: Final = MetricSpec(
    "driftline.drift.detected", "1", "1 when the drifted share reaches the dataset threshold.", _MV
)
LATENCY: Final = MetricSpec(
    "driftline.latency", "s", "Inference latency quantile over the latency window.",
    (*_MV, "quantile"),
)  # fmt: skip
ERROR_RATE: Final = MetricSpec(
    "driftline.error_rate", "1", "Share of inferences with status Error over the latency window.",
    _MV,
)  # fmt: skip
INFERENCES: Final = MetricSpec(
    "driftline.inferences", "{inference}", "Inferences in the latency window.", _MV
)
BURN_RATE: Final = MetricSpec(
    "driftline.slo.burn_rate", "1", "SLO error-budget burn rate over a window.",
    (*_MV, "slo", "window"),
)  # fmt: skip
_MVF = (*_MV, "feature")
MISSING_SHARE: Final = MetricSpec(
    "driftline.quality.missing_share", "1", "Share of inferences missing the feature.", _MVF
)
UNSEEN_SHARE: Final = MetricSpec(
    "driftline.quality.unseen_share", "1", "Share of a category the reference never had.", _MVF
)
OUT_OF_RANGE_SHARE: Final = MetricSpec(
    "driftline.quality.out_of_range_share", "1",
    "Share of numbers outside the reference's range.", _MVF,
)  # fmt: skip
QUALITY_FLAGGED: Final = MetricSpec(
    "driftline.quality.flagged", "1", "1 when any data-quality check of the model alerts.", _MV
)
MULTIVARIATE_ERROR: Final = MetricSpec(
    "driftline.multivariate.error", "1", "Mean PCA reconstruction error (NannyML).", _MV
)
MULTIVARIATE_THRESHOLD: Final = MetricSpec(
    "driftline.multivariate.threshold", "1", "Upper threshold of the reconstruction error.", _MV
)
SPECS: Final = (
    DRIFT_SCORE, DRIFT_THRESHOLD, DRIFT_SHARE, DRIFT_DETECTED, LATENCY, ERROR_RATE, INFERENCES,
    BURN_RATE, MISSING_SHARE, UNSEEN_SHARE, OUT_OF_RANGE_SHARE, QUALITY_FLAGGED,
    MULTIVARIATE_ERROR, MULTIVARIATE_THRESHOLD,
)  # fmt: skip

Point = tuple[tuple[str, ...], float]  # label values in spec order, value


def series(snapshot: Snapshot) -> dict[MetricSpec, list[Point]]:
    """Every spec (in SPECS order) with its points; specs without points are left out."""
    out: dict[MetricSpec, list[Point]] = {spec: [] for spec in SPECS}
    for m in snapshot.models:
        mv = (m.model, m.version)
        if m.drift is not None:
            for f in m.drift.features:
                out[DRIFT_SCORE].append(((*mv, f.feature, f.method), f.score))
                out[DRIFT_THRESHOLD].append(((*mv, f.feature, f.method), f.threshold))
            out[DRIFT_SHARE].append((mv, m.drift.share))
            out[DRIFT_DETECTED].append((mv, float(m.drift.detected)))
        if m.quality is not None:
            for fq in m.quality.features:
                at = (*mv, fq.feature)
                out[MISSING_SHARE].append((at, fq.missing_share))
                if not math.isnan(fq.unseen_share):
                    out[UNSEEN_SHARE].append((at, fq.unseen_share))
                if not math.isnan(fq.out_of_range_share):
                    out[OUT_OF_RANGE_SHARE].append((at, fq.out_of_range_share))
            out[QUALITY_FLAGGED].append((mv, float(m.quality.flagged)))
        if m.multivariate is not None:
            out[MULTIVARIATE_ERROR].append((mv, m.multivariate.error))
            out[MULTIVARIATE_THRESHOLD].append((mv, m.multivariate.upper_threshold))
        if m.latency is not None:
            for q, seconds in m.latency.quantiles_s:
                out[LATENCY].append(((*mv, f"{q:g}"), seconds))
            out[ERROR_RATE].append((mv, m.latency.error_rate))
            out[INFERENCES].append((mv, float(m.latency.count)))
    for b in snapshot.burns:
        out[BURN_RATE].append(((b.model, b.version, b.slo, b.window), b.rate))
    return {spec: points for spec, points in out.items() if points}
