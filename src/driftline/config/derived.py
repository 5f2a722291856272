"""`derived`: driftline's own answers emitted on an interval as OTLP metrics (and on /metrics).

Off by default. `models: []` means every model with inferences in the last
max(drift.window, latency_window).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedDriftConfig:
    """Current window = the last `window`; reference = the `reference` span just before it."""

    window_s: float = 3600.0  # YAML key `window`
    reference_s: float = 86400.0  # YAML key `reference`
    drift_share: float = 0.5  # dataset drift when at least this share of features drifted

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.window_s <= 0:
            problems.append(f"{path}.window: must be > 0")
        if self.reference_s <= 0:
            problems.append(f"{path}.reference: must be > 0")
        if not 0 < self.drift_share <= 1:
            problems.append(f"{path}.drift_share: must be within (0, 1]")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedConfig:
    enabled: bool = False
    interval_s: float = 60.0  # YAML key `interval`
    drift: DerivedDriftConfig = field(default_factory=DerivedDriftConfig)
    latency_window_s: float = 300.0  # YAML key `latency_window`: quantiles and error rate
    models: tuple[str, ...] = ()  # empty: every model seen recently
    quality: bool = True  # data-quality gauges per feature, over the drift windows
    multivariate: bool = False  # the reconstruction error too (a sampled PCA per round)

    def validate(self, path: str) -> list[str]:
        problems = self.drift.validate(f"{path}.drift")
        if self.interval_s <= 0:
            problems.append(f"{path}.interval: must be > 0")
        if self.latency_window_s <= 0:
            problems.append(f"{path}.latency_window: must be > 0")
        if any(not m for m in self.models):
            problems.append(f"{path}.models: names must not be empty")
        return problems
