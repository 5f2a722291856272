"""What one derived-signal round computed: plain frozen values, no I/O, no clients."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureScore:
    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class DriftSnapshot:
    features: tuple[FeatureScore, ...]
    share: float  # share of features drifted
    detected: bool  # share >= the configured drift share


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    count: int
    quantiles_s: tuple[tuple[float, float], ...]  # (quantile, seconds), e.g. (0.99, 0.25)
    error_rate: float


@dataclass(frozen=True, slots=True)
class FeatureQualityPoint:
    feature: str
    missing_share: float
    unseen_share: float  # NaN for numerical features
    out_of_range_share: float  # NaN for categorical features
    flagged: bool


@dataclass(frozen=True, slots=True)
class QualitySnapshot:
    features: tuple[FeatureQualityPoint, ...]
    flagged: bool  # any feature flagged, or duplicate inference ids


@dataclass(frozen=True, slots=True)
class MultivariateSnapshot:
    error: float  # mean reconstruction error of the current window
    upper_threshold: float
    alert: bool


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    model: str
    version: str
    drift: DriftSnapshot | None = None  # None: no drift this round (empty window or failure)
    latency: LatencySnapshot | None = None
    quality: QualitySnapshot | None = None
    multivariate: MultivariateSnapshot | None = None


@dataclass(frozen=True, slots=True)
class SloBurn:
    """The burn rate of one objective over one window (each distinct window of the pairs)."""

    model: str
    version: str  # the objective's version filter ("" = every version)
    slo: str  # "<latency_ms>ms@<target>", e.g. "250ms@0.99"
    window: str  # "5m", "1h", ...
    rate: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    at_ns: int
    models: tuple[ModelSnapshot, ...] = ()
    burns: tuple[SloBurn, ...] = ()
