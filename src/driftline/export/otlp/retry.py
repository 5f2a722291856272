"""Retrying one export: the Collector's jittered exponential backoff, servers' delays first.

    wait(n) = server delay (RetryInfo / Retry-After) when the failed attempt carried one, else
              min(initial · multiplierⁿ⁻¹, max_interval) · (1 ± randomization_factor · U)

as the Collector's `retry_on_failure` (exporterhelper / cenkalti/backoff). Only
ExportRetryable is retried; `max_elapsed_time` 0 retries until the destination returns (the
WAL holds the data and `max_lag_mib` bounds how much of it). Sleeping goes through a callback
so the forwarder can stop, or abandon a batch that lag made obsolete, mid-wait.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
)
from tenacity.wait import wait_base

from driftline.config.model import RetryConfig
from driftline.export.otlp.transport import ExportRetryable

T = TypeVar("T")


class CollectorBackoff(wait_base):
    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self._config = config
        self._rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, ExportRetryable) and error.delay_s is not None:
            return max(0.0, error.delay_s)
        cfg = self._config
        n = max(retry_state.attempt_number - 1, 0)
        interval = min(cfg.initial_interval_s * cfg.multiplier**n, cfg.max_interval_s)
        jitter = cfg.randomization_factor * (2 * self._rng.random() - 1)
        return max(0.0, interval * (1 + jitter))


def call_with_retry(
    fn: Callable[[], T],
    config: RetryConfig,
    *,
    sleep: Callable[[float], None],
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> T:
    """`fn()` until it succeeds, raises something not retryable, or retries run out (then
    the last ExportRetryable is raised)."""
    if not config.enabled:
        return fn()
    stop = stop_after_delay(config.max_elapsed_time_s) if config.max_elapsed_time_s else stop_never
    retrying = Retrying(
        retry=retry_if_exception_type(ExportRetryable),
        wait=CollectorBackoff(config),
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
