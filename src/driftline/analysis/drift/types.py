"""Request and result of a drift computation (frozen; the API, CLI and HTML report read them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Window:
    """Rows with start_ns ≤ Timestamp < end_ns, of one model version if `version` is set.

    With `snapshot`, the rows come from that saved reference (storage/schema_references.py)
    instead of the live feature table; its version was fixed when it was saved."""

    start_ns: int
    end_ns: int
    version: str = ""
    snapshot: str = ""


@dataclass(frozen=True)
class DriftRequest:
    model: str
    reference: Window
    current: Window
    features: tuple[str, ...] = ()  # empty: every feature of the model
    method: str = ""  # request-wide method override
    threshold: float | None = None
    num_method: str = ""
    cat_method: str = ""
    num_threshold: float | None = None
    cat_threshold: float | None = None
    feature_methods: dict[str, str] = field(default_factory=dict)
    feature_thresholds: dict[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    window_s: int = 0  # > 0: split `current` into windows of this many seconds
    # False: skip the Sturges histograms that only feed plots (saves a pass over the data
    # when no feature's method scores bins); FeatureDrift.distribution is then empty for them
    distributions: bool = True


@dataclass(frozen=True)
class Distribution:
    """What the report plots: bins (edges for Sturges bins, labels for per-value bins)."""

    edges: tuple[float, ...]  # empty for per-value bins
    labels: tuple[str, ...]
    ref_shares: tuple[float, ...]
    cur_shares: tuple[float, ...]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    method: str
    method_display: str
    score: float
    threshold: float
    drifted: bool
    n_ref: int
    n_cur: int
    distribution: Distribution


@dataclass(frozen=True)
class DriftReport:
    model: str
    window_start_ns: int
    window_end_ns: int
    features: tuple[FeatureDrift, ...]
    drift_share: float

    @property
    def n_drifted(self) -> int:
        return sum(f.drifted for f in self.features)

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / len(self.features) if self.features else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.share_drifted >= self.drift_share
