"""Timing shared by the benchmarks: best of N runs after one warm-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    """Seconds of the fastest of `runs` calls (after a warm-up call), and its result."""
    fn()
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result
