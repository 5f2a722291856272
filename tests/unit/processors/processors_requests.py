"""Builders of decoded OTLP requests for the processor tests (imported by name: pytest puts this
folder on sys.path)."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def any_value(value: Any) -> AnyValue:
    """A Python value as an AnyValue: lists become arrays, dicts key-value lists."""
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        out.array_value.values.extend(any_value(v) for v in value)
    elif isinstance(value, dict):
        out.kvlist_value.values.extend(key_values(value))
    else:
        raise TypeError(value)
    return out


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def plain(value: AnyValue) -> Any:
    """An AnyValue back as a Python value (the inverse of `any_value`)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attrs(value.kvlist_value.values)
    return None if kind is None else getattr(value, kind)


def attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in key_values}


def traces(
    *spans: dict[str, Any],
    resource: dict[str, Any] | None = None,
    duration_ns: int = 1_000_000,
) -> ExportTraceServiceRequest:
    """One resource, one scope, a span per attribute dict (a span may give `_duration_ns`)."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values(resource or {}))
    scope_spans = resource_spans.scope_spans.add()
    for attributes in spans:
        attributes = dict(attributes)
        span = scope_spans.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="predict")
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + attributes.pop(
            "_duration_ns", duration_ns
        )
        span.attributes.extend(key_values(attributes))
    return request


def logs(*bodies: Any, attributes: dict[str, Any] | None = None) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for body in bodies:
        record = scope_logs.log_records.add()
        record.body.CopyFrom(any_value(body))
        record.attributes.extend(key_values(attributes or {}))
    return request


def gauge(attributes: dict[str, Any]) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
    point = metric.gauge.data_points.add(as_double=1.0)
    point.attributes.extend(key_values(attributes))
    return request


def span_attrs(request: ExportTraceServiceRequest, index: int = 0) -> dict[str, Any]:
    return attrs(request.resource_spans[0].scope_spans[0].spans[index].attributes)
