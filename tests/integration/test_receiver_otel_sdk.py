"""The real opentelemetry-sdk OTLP exporters (gRPC and HTTP/protobuf) against the receivers.

What they send must come out of the durable log unchanged: every span, data point and log
record, with its ids, names and attributes. The exporters' own retry logic must honour the
delay the receiver gives when the WAL is full.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from driftline import telemetry
from driftline.signals import Signal

# The receiver test harness (MemoryLog, servers on a background loop) lives with the unit tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "receiver"))
from receiver_harness import (
    LoopThread,
    Receivers,
    receiver_config,
    start_receivers,
    stop_receivers,
)

pytestmark = pytest.mark.integration

TOKEN = "ingest-s3cret"
HEADERS = {"authorization": f"Bearer {TOKEN}"}
RESOURCE = Resource.create({"service.name": "fraud-model-server", "service.version": "2.8.0"})
TRANSPORTS = ["grpc", "grpc+gzip", "http", "http+gzip"]


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    loop = LoopThread()
    receivers = start_receivers(loop, receiver_config(token=TOKEN))
    yield receivers
    stop_receivers(loop, receivers)
    loop.close()


@pytest.fixture(autouse=True)
def _fresh_log(receivers: Receivers) -> None:
    receivers.log.records.clear()
    receivers.log.full_delay_s = None


def exporter(receivers: Receivers, transport: str, signal: Signal) -> Any:
    gzip = transport.endswith("+gzip")
    if transport.startswith("grpc"):
        grpc_classes = {
            Signal.TRACES: GrpcSpanExporter,
            Signal.METRICS: GrpcMetricExporter,
            Signal.LOGS: GrpcLogExporter,
        }
        return grpc_classes[signal](
            endpoint=receivers.grpc_target,
            insecure=True,
            headers=HEADERS,
            timeout=10,
            compression=grpc.Compression.Gzip if gzip else None,
        )
    http_classes = {
        Signal.TRACES: (HttpSpanExporter, "/v1/traces"),
        Signal.METRICS: (HttpMetricExporter, "/v1/metrics"),
        Signal.LOGS: (HttpLogExporter, "/v1/logs"),
    }
    cls, path = http_classes[signal]
    return cls(
        endpoint=receivers.http_url(path),
        headers=HEADERS,
        timeout=10,
        compression=HttpCompression.Gzip if gzip else HttpCompression.NoCompression,
    )


def inference_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("driftline.tests", "0.1")
    with tracer.start_as_current_span("POST /predict", attributes={"http.status_code": 200}):
        for i in range(3):
            attributes = {
                "ml.model.name": "fraud-xgb",
                "ml.feature.txn_amount": 12.5 * (i + 1),
                "ml.feature.country": "DE",
                "ml.prediction": 0.1 * i,
            }
            with tracer.start_as_current_span(f"inference-{i}", attributes=attributes):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_spans_arrive_intact(receivers: Receivers, transport: str) -> None:
    spans = inference_spans()
    client = exporter(receivers, transport, Signal.TRACES)
    try:
        assert client.export(spans) == SpanExportResult.SUCCESS
    finally:
        client.shutdown()
    (payload,) = receivers.log.payloads(Signal.TRACES)
    request = ExportTraceServiceRequest.FromString(payload)
    (resource_spans,) = request.resource_spans
    resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
    assert resource["service.name"] == "fraud-model-server"
    stored = {s.name: s for scope in resource_spans.scope_spans for s in scope.spans}
    assert set(stored) == {span.name for span in spans}
    for span in spans:
        got = stored[span.name]
        assert got.trace_id == span.context.trace_id.to_bytes(16, "big")
        assert got.span_id == span.context.span_id.to_bytes(8, "big")
        if span.parent is not None:
            assert got.parent_span_id == span.parent.span_id.to_bytes(8, "big")
        assert got.start_time_unix_nano == span.start_time
    features = {kv.key: kv.value for kv in stored["inference-2"].attributes}
    assert features["ml.feature.txn_amount"].double_value == 37.5
    assert features["ml.feature.country"].string_value == "DE"


def collect_metrics() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("driftline.tests")
    meter.create_counter("inference.requests").add(5, {"ml.model.name": "fraud-xgb"})
    meter.create_up_down_counter("inference.in_flight").add(2)
    meter.create_gauge("gpu.utilization").set(0.75, {"gpu": "0"})
    latency = meter.create_histogram("inference.latency", unit="ms")
    for value in (3.0, 7.0, 12.0):
        latency.record(value, {"ml.model.name": "fraud-xgb"})
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_arrive_intact(receivers: Receivers, transport: str) -> None:
    data = collect_metrics()
    client = exporter(receivers, transport, Signal.METRICS)
    try:
        assert client.export(data) == MetricExportResult.SUCCESS
    finally:
        client.shutdown()
    (payload,) = receivers.log.payloads(Signal.METRICS)
    request = ExportMetricsServiceRequest.FromString(payload)
    metrics = {
        m.name: m for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert set(metrics) == {
        "inference.requests",
        "inference.in_flight",
        "gpu.utilization",
        "inference.latency",
    }
    assert metrics["inference.requests"].sum.data_points[0].as_int == 5
    assert metrics["gpu.utilization"].gauge.data_points[0].as_double == 0.75
    histogram = metrics["inference.latency"].histogram.data_points[0]
    assert (histogram.count, histogram.sum) == (3, 22.0)


def emitted_logs() -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("driftline.tests")
    for i in range(3):
        logger.emit(
            body=f"label arrived {i}",
            severity_number=None,
            attributes={"event.name": "ml.label", "ml.label": float(i)},
        )
    provider.shutdown()
    return list(memory.get_finished_logs())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_logs_arrive_intact(receivers: Receivers, transport: str) -> None:
    logs = emitted_logs()
    client = exporter(receivers, transport, Signal.LOGS)
    try:
        assert client.export(logs) == LogRecordExportResult.SUCCESS
    finally:
        client.shutdown()
    (payload,) = receivers.log.payloads(Signal.LOGS)
    request = ExportLogsServiceRequest.FromString(payload)
    records = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    assert [r.body.string_value for r in records] == [f"label arrived {i}" for i in range(3)]
    labels = [{kv.key: kv.value for kv in r.attributes}["ml.label"].double_value for r in records]
    assert labels == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_exporter_waits_out_a_full_wal_and_then_succeeds(
    receivers: Receivers, transport: str
) -> None:
    labels = {"signal": "traces", "transport": transport.split("+")[0], "reason": "backpressure"}
    refused_before = telemetry.REGISTRY.get_sample_value(
        "driftline_receiver_rejected_items_total", labels
    )
    receivers.log.full_delay_s = 0.3  # RetryInfo 0.3 s over gRPC, Retry-After: 1 over HTTP
    threading.Timer(0.2, lambda: setattr(receivers.log, "full_delay_s", None)).start()
    spans = inference_spans()
    client = exporter(receivers, transport, Signal.TRACES)
    try:
        assert client.export(spans) == SpanExportResult.SUCCESS
    finally:
        client.shutdown()
    refused_after = telemetry.REGISTRY.get_sample_value(
        "driftline_receiver_rejected_items_total", labels
    )
    assert (refused_after or 0) - (refused_before or 0) >= len(spans)  # refused at least once
    (payload,) = receivers.log.payloads(Signal.TRACES)
    stored = ExportTraceServiceRequest.FromString(payload)
    assert len(stored.resource_spans[0].scope_spans[0].spans) == len(spans)


def test_wrong_token_fails_the_export_and_stores_nothing(receivers: Receivers) -> None:
    wrong = {"authorization": "Bearer nope"}
    clients = [
        GrpcSpanExporter(endpoint=receivers.grpc_target, insecure=True, headers=wrong, timeout=5),
        HttpSpanExporter(endpoint=receivers.http_url("/v1/traces"), headers=wrong, timeout=5),
    ]
    for client in clients:
        try:
            assert client.export(inference_spans()) == SpanExportResult.FAILURE
        finally:
            client.shutdown()
    assert receivers.log.records == []
