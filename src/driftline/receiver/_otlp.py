"""The per-signal OTLP facts the receivers need: message types, gRPC service, HTTP path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from driftline.signals import Signal


@dataclass(frozen=True, slots=True)
class OtlpSignal:
    signal: Signal
    request_type: type[Message]
    response_type: type[Message]
    grpc_service: str  # fully qualified; the method is always "Export"
    http_path: str
    rejected_field: str  # the count field of Export*PartialSuccess

    @property
    def label(self) -> str:
        """The `signal` label of the receiver metrics: traces, metrics or logs."""
        return self.signal.name.lower()

    def response(self, rejected: int, error_message: str) -> Message:
        """The Export*ServiceResponse: partial_success stays unset on full success."""
        response = self.response_type()
        if rejected or error_message:
            partial = response.partial_success  # type: ignore[attr-defined]
            setattr(partial, self.rejected_field, rejected)
            partial.error_message = error_message
        return response


OTLP_SIGNALS: Final[dict[Signal, OtlpSignal]] = {
    Signal.TRACES: OtlpSignal(
        Signal.TRACES,
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "/v1/traces",
        "rejected_spans",
    ),
    Signal.METRICS: OtlpSignal(
        Signal.METRICS,
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "/v1/metrics",
        "rejected_data_points",
    ),
    Signal.LOGS: OtlpSignal(
        Signal.LOGS,
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "/v1/logs",
        "rejected_log_records",
    ),
}
