"""`alerts`: rules over driftline's own answers, how often they are evaluated, and the webhook.

The rule itself (`AlertRule`) is defined here, in the config layer, because it *is* a config
entry (`alerts.rules[]`); `driftline.alerts.rules` re-exports it for the alert engine. Like a
Prometheus alerting rule, a condition must hold for `for` before the alert fires (a single bad
evaluation is `pending`) and it resolves once the condition has been false for `resolve_after`
(0: at the first good evaluation).

`window` means, per kind:
    drift_share, feature_score     the current window (default 1h) drift is measured over; the
                                   reference is the `derived.drift.reference` span before it
    latency_p99_ms, error_rate     the lookback (default 5m)
    burn_rate                      which SLO window pair: 1h (1h & 5m), 6h (6h & 30m) or
                                   3d (3d & 6h) — default 1h; the value is the smaller of the
                                   pair's two burn rates, so it breaches only when both do
    quality.missing_share,         the current window (default 1h), the reference before it as
    quality.unseen_share,          for drift; the value is `feature`'s share, or the largest
    quality.out_of_range_share     over the model's features when no feature is given
    multivariate.error             the current window's mean PCA reconstruction error
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

from driftline.config.duration import parse_config_duration

# "" only stands for "not given" (every field has a default so that the loader can report a
# rule with missing keys instead of failing to build it); validate() refuses it.
Kind = Literal[
    "", "drift_share", "feature_score", "latency_p99_ms", "burn_rate", "error_rate",
    "quality.missing_share", "quality.unseen_share", "quality.out_of_range_share",
    "multivariate.error",
]  # fmt: skip
QUALITY_KINDS: Final = (
    "quality.missing_share", "quality.unseen_share", "quality.out_of_range_share",
)  # fmt: skip
KINDS: Final[tuple[str, ...]] = (
    "drift_share", "feature_score", "latency_p99_ms", "burn_rate", "error_rate", *QUALITY_KINDS,
    "multivariate.error",
)  # fmt: skip
BURN_WINDOWS: Final = ("1h", "6h", "3d")  # the long windows of analysis.latency.BURN_PAIRS
DEFAULT_WINDOWS: Final = {
    "drift_share": "1h", "feature_score": "1h", "latency_p99_ms": "5m", "error_rate": "5m",
    "burn_rate": "1h", "quality.missing_share": "1h", "quality.unseen_share": "1h",
    "quality.out_of_range_share": "1h", "multivariate.error": "1h",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    name: str = ""
    kind: Kind = ""
    model: str = ""
    threshold: float = math.nan  # required: NaN is refused by validate()
    version: str = ""
    feature: str = ""  # feature_score: which feature
    method: str = ""  # drift kinds: the drift method (empty: Evidently's default per feature)
    window: str = ""  # see the module docstring; empty: DEFAULT_WINDOWS[kind]
    for_s: float = 0.0  # YAML key `for`
    resolve_after_s: float = 0.0  # YAML key `resolve_after`
    severity: str = "warning"  # info | warning | critical
    labels: dict[str, str] = field(default_factory=dict)

    def breached(self, value: float) -> bool:
        """Above the threshold (every kind is "higher is worse"); NaN never breaches."""
        return not math.isnan(value) and value > self.threshold

    @property
    def effective_window(self) -> str:
        return self.window or DEFAULT_WINDOWS.get(self.kind, "")

    def window_s(self) -> float:
        """The lookback in seconds (drift and latency kinds). Raises ValueError if malformed."""
        return parse_config_duration(self.effective_window)

    def validate(self, path: str) -> list[str]:
        problems = []
        if not self.name:
            problems.append(f"{path}.name: must not be empty")
        if self.kind not in KINDS:
            problems.append(f"{path}.kind: must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.model:
            problems.append(f"{path}.model: must not be empty")
        if self.kind == "feature_score" and not self.feature:
            problems.append(f"{path}.feature: required for kind feature_score")
        if self.for_s < 0 or self.resolve_after_s < 0:
            problems.append(f"{path}: for and resolve_after must be >= 0")
        if not math.isfinite(self.threshold):
            problems.append(f"{path}.threshold: must be a finite number")
        if not isinstance(self.labels, dict):
            problems.append(f"{path}.labels: expected a mapping of strings")
        if self.severity not in ("info", "warning", "critical"):
            problems.append(f"{path}.severity: must be info, warning or critical")
        if self.kind == "burn_rate":
            if self.effective_window not in BURN_WINDOWS:
                problems.append(f"{path}.window: must be one of {', '.join(BURN_WINDOWS)}")
        elif self.kind in KINDS:
            try:
                if self.window_s() <= 0:
                    problems.append(f"{path}.window: must be > 0")
            except ValueError as e:
                problems.append(f"{path}.window: {e}")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    """`alerts.webhook`: every firing/resolved transition POSTed as JSON (empty url: off)."""

    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0  # YAML key `timeout`, per attempt
    retries: int = 4  # attempts after the first; 5xx, 429 and connection errors only

    def validate(self, path: str) -> list[str]:
        problems = []
        if self.url and not self.url.startswith(("http://", "https://")):
            problems.append(f"{path}.url: expected http(s)://…, got {self.url!r}")
        if not isinstance(self.headers, dict):
            problems.append(f"{path}.headers: expected a mapping of strings")
        if self.timeout_s <= 0:
            problems.append(f"{path}.timeout: must be > 0")
        if self.retries < 0:
            problems.append(f"{path}.retries: must be >= 0")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsConfig:
    """`alerts`. No rules (the default): no alert thread runs."""

    evaluation_interval_s: float = 60.0  # YAML key `evaluation_interval`
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    rules: tuple[AlertRule, ...] = ()

    def validate(self, path: str, slo_models: frozenset[str] = frozenset()) -> list[str]:
        """`slo_models`: models with an objective in `analysis.slos` (burn_rate needs one)."""
        problems = []
        if self.evaluation_interval_s <= 0:
            problems.append(f"{path}.evaluation_interval: must be > 0")
        problems += self.webhook.validate(f"{path}.webhook")
        names: set[str] = set()
        for i, rule in enumerate(self.rules):
            at = f"{path}.rules[{i}]"
            problems += rule.validate(at)
            if rule.name in names:
                problems.append(f"{at}.name: {rule.name!r} is used by an earlier rule")
            names.add(rule.name)
            if rule.kind == "burn_rate" and rule.model not in slo_models:
                problems.append(
                    f"{at}: burn_rate needs an objective for {rule.model!r} in analysis.slos"
                )
        return problems
