"""The per-rule state machine, pure: (state, measurement, now) → (state, transition or None).

    inactive ──breach──▶ pending ──held for `for`──▶ firing ──ok for `resolve_after`──▶ inactive
        ▲                  │ ok                                         (transition: resolved)
        └──────────────────┘

Only `firing` and `resolved` are transitions the outside world hears about; a pending alert
that recovers is silent, as in Prometheus. A missing measurement (None: no data) changes
nothing, so an outage of the measurement neither fires nor resolves an alert.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from driftline.alerts.rules import AlertRule

Phase = Literal["inactive", "pending", "firing"]


@dataclass(frozen=True, slots=True)
class AlertState:
    phase: Phase = "inactive"
    since: float = 0.0  # when the current phase (or the current good streak, when firing) began
    ok_since: float | None = None  # firing only: when the condition last turned false
    value: float = float("nan")
    fired_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Transition:
    rule: AlertRule
    status: Literal["firing", "resolved"]
    value: float
    at: float
    fired_at: float


def step(
    rule: AlertRule, state: AlertState, value: float | None, now: float
) -> tuple[AlertState, Transition | None]:
    if value is None:
        return state, None
    bad = rule.breached(value)
    if state.phase == "inactive":
        if not bad:
            return replace(state, value=value), None
        state = AlertState("pending", since=now, value=value)
        # fall through: `for: 0` fires at once
    if state.phase == "pending":
        if not bad:
            return AlertState("inactive", since=now, value=value), None
        if now - state.since >= rule.for_s:
            firing = AlertState("firing", since=now, value=value, fired_at=now)
            return firing, Transition(rule, "firing", value, now, now)
        return replace(state, value=value), None
    # firing
    if bad:
        return replace(state, ok_since=None, value=value), None
    ok_since = state.ok_since if state.ok_since is not None else now
    if now - ok_since >= rule.resolve_after_s:
        return (
            AlertState("inactive", since=now, value=value),
            Transition(rule, "resolved", value, now, state.fired_at),
        )
    return replace(state, ok_since=ok_since, value=value), None
