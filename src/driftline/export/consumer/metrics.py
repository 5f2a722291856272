"""The WAL consumers' shared metrics, in driftline's registry (served on /metrics), labelled
by consumer (`clickhouse`, `forward:<name>`). Lag is the WAL's gauge per cursor."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from driftline.telemetry import REGISTRY

BATCHES: Final = Counter(
    "driftline_consumer_batches",
    "Batches delivered and acknowledged.",
    ["consumer"],
    registry=REGISTRY,
)
IN_FLIGHT: Final = Gauge(
    "driftline_consumer_in_flight_batches",
    "Batches handed to a worker and not yet acknowledged.",
    ["consumer"],
    registry=REGISTRY,
)
RETRIES: Final = Counter(
    "driftline_consumer_retries",
    "Failed delivery attempts that were retried (retry_on_failure).",
    ["consumer"],
    registry=REGISTRY,
)
ERRORS: Final = Counter(
    "driftline_consumer_unexpected_errors",
    "Unexpected errors (stage read or deliver); the batch is kept and tried again.",
    ["consumer", "stage"],
    registry=REGISTRY,
)
QUARANTINED: Final = Counter(
    "driftline_quarantined_records",
    "WAL records set aside in the quarantine (refused, or the same error too often).",
    ["consumer"],
    registry=REGISTRY,
)
QUARANTINE_SIZE: Final = Gauge(
    "driftline_quarantine_records",
    "Records in the quarantine on disk now (listed and replayed by `driftline quarantine`).",
    ["consumer"],
    registry=REGISTRY,
)
