"""Durations: `250ms`, `5s`, `72h`.

`parse_config_duration` is the config file's strict form (as Go's time.ParseDuration in the
Collector): a number and its unit, no space between, no bare numbers except 0 — `latency: 250`
would silently mean 250 s where the user meant milliseconds. `parse_duration` is the command
line's lenient form (`--since 1h`, `--window 3600`), a bare number being seconds.

A leaf: the loader (load.py) converts every `*_s` field with it, and config dataclasses that
keep a duration as text (an alert rule's `window`) parse it on use, without importing the
loader (which imports the model, which imports them).
"""

from __future__ import annotations

import re
from typing import Final

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*$")
_STRICT: Final = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)$")
EXPECTED: Final = "a duration with its unit (250ms, 5s, 10m, 72h)"
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


def parse_config_duration(value: object) -> float:
    """`5s` → 5.0; 0 may stand alone. Raises ValueError saying the expected form."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == 0:
            return 0.0
        raise ValueError(
            f"expected {EXPECTED}, got the bare number {value!r} (write {value}ms or {value}s)"
        )
    if isinstance(value, str):
        match = _STRICT.match(value)
        if match:
            return float(match.group(1)) * _UNIT_S[match.group(2)]
        loose = _DURATION.match(value)
        if loose and loose.group(2):
            return_hint = f"{loose.group(1)}{loose.group(2)}"
            raise ValueError(f"expected {EXPECTED}, got {value!r} (write {return_hint!r})")
        if loose or value.strip() == "0":
            number = loose.group(1) if loose else "0"
            if float(number) == 0:
                return 0.0
            raise ValueError(f"expected {EXPECTED}, got {value!r} (write {number}ms or {number}s)")
    raise ValueError(f"expected {EXPECTED}, got {value!r}")
