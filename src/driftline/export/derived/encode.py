"""Derived series → an OTLP ExportMetricsServiceRequest (pure: bytes out, no I/O).

One resource (`service.name = driftline`), one scope (`driftline.derived`), one Gauge metric
per spec with a data point per series, all stamped with the round's time. The bytes are what a
receiver would have appended to the WAL, so the ClickHouse sink stores them in
otel_metrics_gauge and forwarders send them on, unchanged.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from driftline.export.derived.series import series
from driftline.export.derived.types import Snapshot

SERVICE_NAME: Final = "driftline"
SCOPE_NAME: Final = "driftline.derived"


def _str_kv(key: str, value: str) -> KeyValue:
    kv = KeyValue(key=key)
    kv.value.string_value = value
    return kv


def metrics_request(snapshot: Snapshot, *, service_version: str = "") -> bytes:
    """The request for one round; empty bytes when the round computed nothing."""
    by_spec = series(snapshot)
    if not by_spec:
        return b""
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.append(_str_kv("service.name", SERVICE_NAME))
    if service_version:
        resource_metrics.resource.attributes.append(_str_kv("service.version", service_version))
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = SCOPE_NAME
    for spec, points in by_spec.items():
        metric = scope_metrics.metrics.add(
            name=spec.name, unit=spec.unit, description=spec.description
        )
        for labels, value in points:
            point = metric.gauge.data_points.add(
                time_unix_nano=snapshot.at_ns, as_double=float(value)
            )
            point.attributes.extend(_str_kv(k, v) for k, v in zip(spec.labels, labels, strict=True))
    return request.SerializeToString()
