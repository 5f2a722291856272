"""What differs between the three OTLP signals, in one table.

Everything else in the forwarder is signal-agnostic: it asks this module for the request and
response classes, the gRPC method and HTTP path, the field names of the resource → scope →
item nesting, and how many items a request holds (spans, data points, log records — the
units OTLP's partial-success fields count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from driftline.signals import Signal


@dataclass(frozen=True, slots=True)
class Shape:
    signal: Signal
    name: str  # "traces" | "metrics" | "logs": config and metric label spelling
    request: type[Message]
    response: type[Message]
    grpc_method: str
    http_path: str
    resources: str  # request.<resources>[i].<scopes>[j].<items>[k]
    scopes: str
    items: str  # for metrics the leaves are Metric messages; their data points are the items
    rejected_field: str  # in <response>.partial_success


SHAPES: Final[dict[Signal, Shape]] = {
    Signal.TRACES: Shape(
        Signal.TRACES, "traces", ExportTraceServiceRequest, ExportTraceServiceResponse,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export", "/v1/traces",
        "resource_spans", "scope_spans", "spans", "rejected_spans",
    ),
    Signal.METRICS: Shape(
        Signal.METRICS, "metrics", ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "/v1/metrics",
        "resource_metrics", "scope_metrics", "metrics", "rejected_data_points",
    ),
    Signal.LOGS: Shape(
        Signal.LOGS, "logs", ExportLogsServiceRequest, ExportLogsServiceResponse,
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/v1/logs",
        "resource_logs", "scope_logs", "log_records", "rejected_log_records",
    ),
}  # fmt: skip

BY_NAME: Final[dict[str, Shape]] = {shape.name: shape for shape in SHAPES.values()}


def metric_points(metric: Message) -> int:
    kind = metric.WhichOneof("data")
    return len(getattr(metric, kind).data_points) if kind is not None else 0


def count_items(signal: Signal, request: Message) -> int:
    """Items in a decoded request. Touches only container lengths (no per-item objects),
    except for metrics, where each Metric's data oneof is inspected."""
    shape = SHAPES[signal]
    if signal is Signal.METRICS:
        return sum(
            metric_points(m)
            for r in getattr(request, shape.resources)
            for s in getattr(r, shape.scopes)
            for m in s.metrics
        )
    return sum(
        len(getattr(s, shape.items))
        for r in getattr(request, shape.resources)
        for s in getattr(r, shape.scopes)
    )


def rejected(signal: Signal, response_body: bytes) -> tuple[int, str]:
    """(rejected items, error message) of a serialized Export*ServiceResponse."""
    if not response_body:
        return 0, ""
    response = SHAPES[signal].response.FromString(response_body)
    if not response.HasField("partial_success"):
        return 0, ""
    partial = response.partial_success  # type: ignore[attr-defined]
    return int(getattr(partial, SHAPES[signal].rejected_field)), str(partial.error_message)
