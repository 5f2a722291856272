"""What the run statements (ingest_runs_sql) and the MLflow statements (ingest_mlflow_sql)
share: the log fields they decode and the expressions that read a run event. A leaf, so
neither statement module needs the other's private names."""

from __future__ import annotations

from typing import Final

from driftline import semconv
from driftline.storage.ingest_base import SCALAR_KVS_T, as_text, attr, literal

# The log fields the run statements decode: scalar attributes, times, event name, and the
# resource attributes for ServiceName.
RUN_LOGS_STRUCTURE: Final = (
    f"resource_logs Array(Tuple(resource Tuple(attributes {SCALAR_KVS_T}), "
    "scope_logs Array(Tuple(log_records Array(Tuple("
    "time_unix_nano UInt64, observed_time_unix_nano UInt64, "
    f"attributes {SCALAR_KVS_T}, event_name String))))))"
)
# A record without this key yields no run row, and protobuf carries keys as plain bytes: the
# inserter hands these statements only the payloads that contain it (most logs batches: none).
REQUIRES: Final = semconv.ML_RUN_ID.encode()
RECORD_TIME: Final = (
    "fromUnixTimestamp64Nano(toInt64(if(r.time_unix_nano != 0, r.time_unix_nano, "
    "r.observed_time_unix_nano)))"
)


def event() -> str:
    return (
        f"if(r.event_name != '', r.event_name, {as_text(attr('r.attributes', semconv.EVENT_NAME))})"
    )


def run_id() -> str:
    return as_text(attr("r.attributes", semconv.ML_RUN_ID))


def prefixed_map(prefix: str) -> str:
    """Map(String, String) of the attributes under `prefix` (keys without it), values as text."""
    picked = f"arrayFilter(kv -> startsWith(kv.key, {literal(prefix)}), r.attributes)"
    return (
        f"mapFromArrays(arrayMap(kv -> substring(kv.key, {len(prefix) + 1}), {picked}), "
        f"arrayMap(kv -> {as_text('kv.value')}, {picked}))"
    )
