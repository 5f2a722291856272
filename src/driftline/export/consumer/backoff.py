"""Retrying one delivery: one backoff and one `retry_on_failure` for every WAL consumer.

    wait(n) = the server's delay (RetryInfo / Retry-After) when the failed attempt carried one,
              else min(initial · multiplierⁿ⁻¹, max_interval) · (1 ± randomization_factor · U)

as the Collector's `retry_on_failure` (exporterhelper / cenkalti/backoff). RetryableError is
retried, anything else raised at once. Two bounds end the retries:

- `max_elapsed_time` (0: none) — then the last RetryableError is raised;
- `permanent_after` — an error that repeats that many times in a row on the same data (same
  type and engine code: its fingerprint) is the data's fault, not the destination's: it is
  raised as RepeatedFailureError, a PermanentError the caller sets aside like a refusal.
  UnavailableError (the destination is down, out of disk, overloaded) is exempt: it says
  nothing about the data, so it is retried until the destination returns.

BatchTooLargeError is not retried when the caller can split the batch (`retry_too_large`
False): a smaller batch is the answer, not the same one again. Sleeping goes through a
callback, so a consumer can stop (or abandon a batch) mid-wait by raising from it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Final, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay
from tenacity.wait import wait_base

from driftline.config.model import RetryConfig
from driftline.errors import (
    BatchTooLargeError,
    RepeatedFailureError,
    RetryableError,
    UnavailableError,
)

T = TypeVar("T")

_ENGINE_CODE: Final = re.compile(r"Code: (\d+)")


def fingerprint(error: BaseException) -> str:
    """What makes two failures "the same error": the type and the code (a transport's code
    attribute or the engine's `Code: N`), else the message."""
    code = getattr(error, "code", None)
    if code is None:
        match = _ENGINE_CODE.search(str(error))
        code = match.group(1) if match else str(error)[:200]
    return f"{type(error).__name__}:{code}"


class CollectorBackoff(wait_base):
    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self._config = config
        self._rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableError) and error.delay_s is not None:
            return max(0.0, error.delay_s)
        cfg = self._config
        n = max(retry_state.attempt_number - 1, 0)
        interval = min(cfg.initial_interval_s * cfg.multiplier**n, cfg.max_interval_s)
        jitter = cfg.randomization_factor * (2 * self._rng.random() - 1)
        return max(0.0, interval * (1 + jitter))


class _Repeats:
    """Counts consecutive failures with one fingerprint; the stop condition of a retry."""

    def __init__(self, limit: int, elapsed_s: float) -> None:
        self._limit = limit
        self._elapsed = stop_after_delay(elapsed_s) if elapsed_s else None
        self._last = ""
        self.count = 0
        self.exceeded = False

    def __call__(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None and not isinstance(error, UnavailableError):
            key = fingerprint(error)
            self.count = self.count + 1 if key == self._last else 1
            self._last = key
            if self._limit and self.count >= self._limit:
                self.exceeded = True
                return True
        else:
            self._last, self.count = "", 0
        return self._elapsed is not None and bool(self._elapsed(state))


def call_with_retry(
    fn: Callable[[], T],
    config: RetryConfig,
    *,
    sleep: Callable[[float], None],
    before_sleep: Callable[[RetryCallState], None] | None = None,
    retry_too_large: bool = True,
) -> T:
    """`fn()` until it succeeds, raises something not retryable, or a bound ends it (see the
    module docstring for which error is raised then)."""
    if not config.enabled:
        return fn()

    def retryable(error: BaseException) -> bool:
        if isinstance(error, BatchTooLargeError) and not retry_too_large:
            return False
        return isinstance(error, RetryableError)

    repeats = _Repeats(config.permanent_after, config.max_elapsed_time_s)
    retrying = Retrying(
        retry=retry_if_exception(retryable),
        wait=CollectorBackoff(config),
        stop=repeats,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(fn)
    except RetryableError as e:
        if not repeats.exceeded:
            raise
        raise RepeatedFailureError(
            f"the same error {repeats.count} times on the same data, treated as permanent: {e}",
            tables=e.tables,
        ) from e
