"""Backoff: the Collector's jittered exponential intervals with a cap; server delays win."""

from __future__ import annotations

import random

import pytest
from tenacity import RetryCallState, Retrying

from driftline.config.model import RetryConfig
from driftline.export.consumer.backoff import CollectorBackoff, call_with_retry
from driftline.export.otlp.transport import ExportRefused, ExportRetryable


def _state(attempt: int, error: BaseException) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_intervals_grow_by_the_multiplier_within_the_jitter_band_and_cap() -> None:
    cfg = RetryConfig(initial_interval_s=1.0, max_interval_s=8.0, multiplier=2.0,
                      randomization_factor=0.5)  # fmt: skip
    wait = CollectorBackoff(cfg, random.Random(7))
    error = ExportRetryable("down", code="unavailable")
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        samples = [wait(_state(attempt, error)) for _ in range(200)]
        assert min(samples) >= base * 0.5 and max(samples) <= base * 1.5
        assert max(samples) - min(samples) > base * 0.5  # jittered, not constant


def test_a_server_delay_replaces_the_backoff() -> None:
    wait = CollectorBackoff(RetryConfig(initial_interval_s=0.01, max_interval_s=0.02))
    error = ExportRetryable("slow down", code="unavailable", delay_s=3.25)
    assert wait(_state(1, error)) == 3.25


def test_only_retryable_errors_are_retried_and_sleeps_are_the_computed_waits() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ExportRetryable("x", code="unavailable", delay_s=0.5)
        return "ok"

    cfg = RetryConfig(initial_interval_s=0.01, max_interval_s=0.02)
    assert call_with_retry(flaky, cfg, sleep=slept.append) == "ok"
    assert slept == [0.5, 0.5] and len(calls) == 3

    def refused() -> str:
        calls.append(1)
        raise ExportRefused("bad", code="invalid_argument")

    calls.clear()
    with pytest.raises(ExportRefused):
        call_with_retry(refused, cfg, sleep=slept.append)
    assert len(calls) == 1


def test_disabled_retry_gives_up_at_once() -> None:
    def down() -> None:
        raise ExportRetryable("x", code="unavailable")

    with pytest.raises(ExportRetryable):
        call_with_retry(down, RetryConfig(enabled=False), sleep=lambda s: None)
