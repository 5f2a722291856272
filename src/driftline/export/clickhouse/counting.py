"""How many rows a WAL payload will become (spans, data points, log records).

Parsing with the upb-backed protobuf classes costs about 1 ms per 1000 spans and touches no
Python object per item beyond the container lengths; the batcher needs the counts to honour
`batch.max_rows`, and telemetry reports inserted rows per signal.
"""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.signals import Signal


def count_items(signal: Signal, payload: bytes) -> int:
    if signal is Signal.TRACES:
        traces = ExportTraceServiceRequest.FromString(payload)
        return sum(len(ss.spans) for rs in traces.resource_spans for ss in rs.scope_spans)
    if signal is Signal.LOGS:
        logs = ExportLogsServiceRequest.FromString(payload)
        return sum(len(sl.log_records) for rl in logs.resource_logs for sl in rl.scope_logs)
    metrics = ExportMetricsServiceRequest.FromString(payload)
    total = 0
    for rm in metrics.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(m, kind).data_points)
    return total
