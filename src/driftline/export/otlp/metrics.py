"""The forwarders' metrics, in driftline's registry (served on /metrics).

Per destination (`exporter`) and signal. Lag needs no metric of its own: the WAL collector
exports `driftline_wal_cursor_lag_records|bytes{cursor="forward:<name>"}` at scrape time.
Drop reasons: `permanent` (refused, not retryable), `retries_exhausted` (max_elapsed_time
passed), `lag` (the destination fell more than max_lag_mib behind), `transform` (the transform
hook raised), `undecodable` (a WAL record that is not a valid request).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

from driftline.telemetry import REGISTRY

SENT_ITEMS: Final = Counter(
    "driftline_exporter_sent_items",
    "Items the destination accepted (partial-success rejections excluded).",
    ["exporter", "signal"],
    registry=REGISTRY,
)
SENT_REQUESTS: Final = Counter(
    "driftline_exporter_sent_requests",
    "Export requests the destination answered with success (full or partial).",
    ["exporter", "signal"],
    registry=REGISTRY,
)
DROPPED_ITEMS: Final = Counter(
    "driftline_exporter_dropped_items",
    "Items given up on, by reason (permanent, retries_exhausted, lag, transform, undecodable).",
    ["exporter", "signal", "reason"],
    registry=REGISTRY,
)
REJECTED_ITEMS: Final = Counter(
    "driftline_exporter_partial_rejected_items",
    "Items a destination refused in a partial-success answer (not retried).",
    ["exporter", "signal"],
    registry=REGISTRY,
)
RETRIES: Final = Counter(
    "driftline_exporter_retries",
    "Failed export attempts that were retried, by the failure's code.",
    ["exporter", "signal", "code"],
    registry=REGISTRY,
)
RESENT_ITEMS: Final = Counter(
    "driftline_exporter_resent_items",
    "Items sent again, maybe duplicates downstream: reason retry (after a failed attempt) or "
    "restart (sent before a restart, not acknowledged in time).",
    ["exporter", "signal", "reason"],
    registry=REGISTRY,
)
EXPORT_SECONDS: Final = Histogram(
    "driftline_exporter_send_duration_seconds",
    "Duration of one export attempt.",
    ["exporter"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
