"""Requests built for the forwarding tests: distinct span ids, resource/scope headers to check."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def traces(shape: list[list[int]], tag: str = "t") -> ExportTraceServiceRequest:
    """shape[i][j] spans in scope j of resource i; resource i has service.name f"{tag}-{i}"."""
    req = ExportTraceServiceRequest()
    now = time.time_ns()
    for i, scopes in enumerate(shape):
        rs = req.resource_spans.add(schema_url=f"https://schema/{i}")
        rs.resource.attributes.add(key="service.name").value.string_value = f"{tag}-{i}"
        for j, n in enumerate(scopes):
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = f"scope-{i}-{j}", "1.0"
            for k in range(n):
                span = ss.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer")
                span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1000 + k
                span.attributes.add(key="k").value.int_value = k
    return req


def metrics(points: list[int]) -> ExportMetricsServiceRequest:
    """One resource, one scope; metric m is a gauge with points[m] data points."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "m"
    sm = rm.scope_metrics.add()
    sm.scope.name = "meter"
    for m, n in enumerate(points):
        metric = sm.metrics.add(name=f"metric-{m}", unit="ms")
        if m % 2:
            metric.sum.aggregation_temporality = 2
            metric.sum.is_monotonic = True
            dps = metric.sum.data_points
        else:
            dps = metric.gauge.data_points
        for k in range(n):
            dps.add(time_unix_nano=time.time_ns(), as_double=float(k))
    return req


def logs(n: int) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for k in range(n):
        sl.log_records.add(time_unix_nano=time.time_ns()).body.string_value = f"line {k}"
    return req
