"""The alert loop: every `interval_s`, measure each rule, step its state, publish transitions.

Measuring is injected (`measure(rule) → value | None`), so the loop knows nothing about SQL;
the service gives it a function backed by the analytics queries. Publishing goes two ways: OTLP
log events appended to the WAL (`emit`), and the webhook when one is configured. State lives in
memory: after a restart a still-breached rule goes through `for` again and fires again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from driftline.alerts.events import transition_json, transitions_request
from driftline.alerts.rules import AlertRule
from driftline.alerts.state import AlertState, Transition, step
from driftline.alerts.webhook import post_json
from driftline.errors import DriftlineError

log = logging.getLogger(__name__)


class AlertEngine:
    def __init__(
        self,
        rules: Sequence[AlertRule],
        measure: Callable[[AlertRule], float | None],
        emit: Callable[[bytes], object],
        *,
        webhook_url: str = "",
        webhook_headers: Mapping[str, str] | None = None,
        webhook_timeout_s: float = 5.0,
        webhook_attempts: int = 5,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = list(rules)
        self._measure = measure
        self._emit = emit
        self._webhook_url = webhook_url
        self._webhook_headers = dict(webhook_headers or {})
        self._webhook_timeout_s = webhook_timeout_s
        self._webhook_attempts = webhook_attempts
        self._interval_s = interval_s
        self._clock = clock
        self.states: dict[str, AlertState] = {r.name: AlertState() for r in self.rules}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def evaluate(self) -> list[Transition]:
        """One round over every rule; returns (and publishes) the transitions."""
        now = self._clock()
        transitions = []
        for rule in self.rules:
            try:
                value = self._measure(rule)
            except Exception:
                log.exception("alert %s: measuring failed; state unchanged", rule.name)
                continue
            self.states[rule.name], transition = step(rule, self.states[rule.name], value, now)
            if transition is not None:
                transitions.append(transition)
        if transitions:
            self._publish(transitions)
        return transitions

    def _publish(self, transitions: list[Transition]) -> None:
        for t in transitions:
            log.info(
                "alert %s %s: %s of %s is %.4g (threshold %g)",
                t.rule.name, t.status, t.rule.kind, t.rule.model, t.value, t.rule.threshold,
            )  # fmt: skip
        try:
            self._emit(transitions_request(transitions))
        except Exception:
            log.exception("alerts: could not append %d transition events", len(transitions))
        if self._webhook_url:
            for t in transitions:
                try:
                    post_json(
                        self._webhook_url,
                        transition_json(t),
                        headers=self._webhook_headers,
                        timeout_s=self._webhook_timeout_s,
                        attempts=self._webhook_attempts,
                    )
                except DriftlineError as e:
                    log.error("alert %s: webhook failed: %s", t.rule.name, e)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.evaluate()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    shutdown = stop  # what service.stop() calls on its closers
