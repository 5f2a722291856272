"""Durations as the config writes them: `250ms`, `5s`, `72h`, or a bare number of seconds.

A leaf: the loader (load.py) converts every `*_s` field with it, and config dataclasses that
keep a duration as text (an alert rule's `window`) parse it on use, without importing the
loader (which imports the model, which imports them).
"""

from __future__ import annotations

import re
from typing import Final

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*$")
_UNIT_S: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
}  # fmt: skip


def parse_duration(value: object) -> float:
    """`5s` → 5.0; a bare number is seconds. Raises ValueError with the offending text."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    raise ValueError(f"expected a duration such as 500ms, 5s or 72h, got {value!r}")
