"""An alert rule: a measured quantity for one model, compared with a threshold.

Like a Prometheus alerting rule: the condition must hold for `for_s` seconds before the alert
fires (a single bad evaluation is `pending`), and it resolves when the condition has been false
for `resolve_after_s` (0: at the first good evaluation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

Kind = Literal["drift_share", "feature_score", "latency_p99_ms", "burn_rate", "error_rate"]
KINDS: Final[tuple[str, ...]] = (
    "drift_share", "feature_score", "latency_p99_ms", "burn_rate", "error_rate",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    name: str
    kind: Kind
    model: str
    threshold: float
    version: str = ""
    feature: str = ""  # feature_score: which feature
    window: str = ""  # burn_rate: which window pair ("1h", "6h", "3d"); others: the lookback
    for_s: float = 0.0
    resolve_after_s: float = 0.0
    severity: str = "warning"
    labels: dict[str, str] = field(default_factory=dict)

    def breached(self, value: float) -> bool:
        """Above the threshold (every kind is "higher is worse"); NaN never breaches."""
        return not math.isnan(value) and value > self.threshold

    def validate(self, path: str) -> list[str]:
        problems = []
        if not self.name:
            problems.append(f"{path}.name: must not be empty")
        if self.kind not in KINDS:
            problems.append(f"{path}.kind: must be one of {', '.join(KINDS)}")
        if not self.model:
            problems.append(f"{path}.model: must not be empty")
        if self.kind == "feature_score" and not self.feature:
            problems.append(f"{path}.feature: required for kind feature_score")
        if self.for_s < 0 or self.resolve_after_s < 0:
            problems.append(f"{path}: for and resolve_after must be >= 0")
        if not math.isfinite(self.threshold):
            problems.append(f"{path}.threshold: must be a finite number")
        return problems
