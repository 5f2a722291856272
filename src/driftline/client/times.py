"""Times as the client accepts them → `driftline.v1.TimeRange` (Unix nanoseconds, 0 = open).

A time is a `datetime` (naive means UTC), Unix nanoseconds (int), or None. `since` is a
duration before now (or before `end`): "90s", "15m", "24h", "7d", a number of seconds, or a
`timedelta`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from driftline.api._gen.driftline.v1 import query_pb2

TimeLike = datetime | int | None

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_S: Final = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def to_ns(value: TimeLike) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1e9)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a time is a datetime or Unix nanoseconds (int), not {value!r}")
    return value


def duration_s(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    raise ValueError(f"expected a duration such as 15m, 24h or 7d, got {value!r}")


def time_range(start: TimeLike, end: TimeLike, since: Any) -> query_pb2.TimeRange:
    start_ns, end_ns = to_ns(start), to_ns(end)
    if since is not None and since != "":
        if start_ns:
            raise ValueError("give since or start, not both")
        start_ns = (end_ns or time.time_ns()) - int(duration_s(since) * 1e9)
    return query_pb2.TimeRange(start_unix_nano=start_ns, end_unix_nano=end_ns)
