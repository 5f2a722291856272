"""driftline's own metrics, exposed in Prometheus format on `telemetry.metrics_endpoint`.

All metrics live in one registry (`REGISTRY`) rather than prometheus_client's global one, so a
test process can build several servers without duplicate-registration errors. Gauges that
describe the WAL are read at scrape time by a collector the service registers (see service.py).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY: Final = CollectorRegistry(auto_describe=True)

RECEIVER_ACCEPTED: Final = Counter(
    "driftline_receiver_accepted_items",
    "Items (spans, data points, log records) made durable and acknowledged.",
    ["signal", "transport"],
    registry=REGISTRY,
)
RECEIVER_REJECTED: Final = Counter(
    "driftline_receiver_rejected_items",
    "Items refused, by reason (invalid, too_large, unauthenticated, backpressure, internal).",
    ["signal", "transport", "reason"],
    registry=REGISTRY,
)
RECEIVER_REQUESTS: Final = Counter(
    "driftline_receiver_requests",
    "Export requests by outcome code (ok, partial, invalid_argument, ...).",
    ["signal", "transport", "code"],
    registry=REGISTRY,
)
RECEIVER_TRANSFORMED: Final = Counter(
    "driftline_receiver_transformed_requests",
    "Export requests the ingest processors (redaction; enrichment with apply_to: both) changed.",
    ["signal"],
    registry=REGISTRY,
)
RECEIVER_LATENCY: Final = Histogram(
    "driftline_receiver_request_duration_seconds",
    "Time from request arrival to the answer, including the durable WAL append.",
    ["signal", "transport"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
WAL_APPENDS: Final = Counter(
    "driftline_wal_appended_records", "Records appended to the WAL.", registry=REGISTRY
)
WAL_APPENDED_BYTES: Final = Counter(
    "driftline_wal_appended_bytes", "Payload bytes appended to the WAL.", registry=REGISTRY
)
WAL_SYNC_SECONDS: Final = Histogram(
    "driftline_wal_sync_duration_seconds",
    "Duration of one group commit (write + fsync).",
    buckets=(0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    registry=REGISTRY,
)
WAL_CORRUPT_RECORDS: Final = Counter(
    "driftline_wal_corrupt_records",
    "WAL records whose bytes were damaged (bad checksum, cut short); set aside in quarantine/.",
    registry=REGISTRY,
)
WAL_MISSING_RECORDS: Final = Counter(
    "driftline_wal_missing_records",
    "WAL record ids expected at recovery whose bytes were gone (a segment cut short, emptied "
    "or deleted).",
    registry=REGISTRY,
)
WAL_DISK_FULL: Final = Counter(
    "driftline_wal_disk_full",
    "Times the WAL's disk filled up (ENOSPC/EDQUOT); appends were refused until space returned.",
    registry=REGISTRY,
)
WAL_LEDGER_REBUILT: Final = Counter(
    "driftline_wal_ledger_rebuilt",
    "Times the WAL ledger could not be read at startup and was rebuilt from the segments.",
    registry=REGISTRY,
)
INSERT_ROWS: Final = Counter(
    "driftline_clickhouse_inserted_rows", "Rows inserted into ClickHouse.", ["table"],
    registry=REGISTRY,
)  # fmt: skip
INSERT_SECONDS: Final = Histogram(
    "driftline_clickhouse_insert_duration_seconds",
    "Duration of one INSERT statement.",
    ["table"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
INSERT_ERRORS: Final = Counter(
    "driftline_clickhouse_insert_errors",
    "Failed INSERT attempts by kind (retryable, permanent).",
    ["table", "kind"],
    registry=REGISTRY,
)
QUERY_REQUESTS: Final = Counter(
    "driftline_query_requests", "Query API calls by method and code.", ["method", "code"],
    registry=REGISTRY,
)  # fmt: skip
