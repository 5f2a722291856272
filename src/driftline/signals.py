"""The three OTLP signals, as stored in WAL records.

The value is written on disk: never renumber.
"""

from __future__ import annotations

import enum


class Signal(enum.IntEnum):
    TRACES = 1
    METRICS = 2
    LOGS = 3

    @property
    def item_name(self) -> str:
        """What one item of this signal is called in OTLP partial-success fields and metrics."""
        return {Signal.TRACES: "spans", Signal.METRICS: "data_points", Signal.LOGS: "log_records"}[
            self
        ]
