"""End to end: the real opentelemetry-sdk exporters (gRPC and HTTP) → `driftline serve` →
ClickHouse rows, read back through the query API."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("e2e")) as srv:
        yield srv


def _exporters(server: ServerProcess, transport: str) -> tuple[object, object, object]:
    if transport == "grpc":
        endpoint = server.endpoints["otlp_grpc"]
        return (
            GrpcSpanExporter(endpoint=endpoint, insecure=True),
            GrpcMetricExporter(endpoint=endpoint, insecure=True),
            GrpcLogExporter(endpoint=endpoint, insecure=True),
        )
    base = f"http://{server.endpoints['otlp_http']}"
    return (
        HttpSpanExporter(endpoint=f"{base}/v1/traces"),
        HttpMetricExporter(endpoint=f"{base}/v1/metrics"),
        HttpLogExporter(endpoint=f"{base}/v1/logs"),
    )


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_spans_land_with_attributes_events_links_resource_and_scope(
    server: ServerProcess, transport: str
) -> None:
    service = f"svc-{transport}-{uuid.uuid4().hex[:6]}"
    span_exporter, _, _ = _exporters(server, transport)
    provider = TracerProvider(resource=Resource.create({"service.name": service, "team": "ml"}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))  # type: ignore[arg-type]
    tracer = provider.get_tracer("inference.scope", "3.1.4")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent_ctx = parent.get_span_context()
    with tracer.start_as_current_span(
        "predict",
        kind=SpanKind.INTERNAL,
        attributes={
            "ml.model.name": "xgb",
            "ml.feature.age": 41.5,
            "ml.feature.n": 3,
            "ml.feature.ok": True,
            "tags": ["a", "b"],
        },
        links=[Link(parent_ctx, {"link.kind": "batch"})],
    ) as span:
        span.add_event("feature.fetched", {"store": "redis"})
        span.set_status(Status(StatusCode.ERROR, "model crashed"))
        ctx = span.get_span_context()
    provider.shutdown()

    where = f"ServiceName = '{service}'"
    server.wait_for(f"SELECT count() FROM otel_traces WHERE {where}", 2)
    row = server.sql(
        "SELECT TraceId, SpanId, SpanKind, StatusCode, StatusMessage, ScopeName, ScopeVersion, "
        "SpanAttributes['ml.feature.age'], SpanAttributes['ml.feature.n'], "
        "SpanAttributes['ml.feature.ok'], SpanAttributes['tags'], ResourceAttributes['team'], "
        "Events.Name[1], Events.Attributes[1]['store'], Links.SpanId[1], "
        "Links.Attributes[1]['link.kind'], Duration > 0 "
        f"FROM otel_traces WHERE {where} AND SpanName = 'predict'"
    )[0]
    assert row[0] == format(ctx.trace_id, "032x") and row[1] == format(ctx.span_id, "016x")
    assert row[2:7] == ["Internal", "Error", "model crashed", "inference.scope", "3.1.4"]
    assert row[7:12] == ["41.5", "3", "true", '["a","b"]', "ml"]
    assert row[12:14] == ["feature.fetched", "redis"]
    assert row[14] == format(parent_ctx.span_id, "016x") and row[15] == "batch"
    assert row[16] in (1, True)
    # The trace-id lookup table is fed by its materialized view.
    trace_hex = format(ctx.trace_id, "032x")
    assert (
        server.scalar(f"SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = '{trace_hex}'")
        >= 1
    )


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_metrics_of_four_kinds_land_in_their_tables(server: ServerProcess, transport: str) -> None:
    service = f"svc-m-{transport}-{uuid.uuid4().hex[:6]}"
    _, metric_exporter, _ = _exporters(server, transport)
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)  # type: ignore[arg-type]
    provider = MeterProvider(
        resource=Resource.create({"service.name": service}),
        metric_readers=[reader],
        views=[
            View(instrument_name="latency.exp", aggregation=ExponentialBucketHistogramAggregation())
        ],
    )
    meter = provider.get_meter("m")
    meter.create_gauge("queue.depth").set(7, {"queue": "a"})
    meter.create_counter("requests", unit="1").add(5, {"model": "xgb"})
    hist = meter.create_histogram("latency", unit="ms")
    for v in (1.0, 20.0, 300.0):
        hist.record(v)
    exp = meter.create_histogram("latency.exp", unit="ms")
    for v in (1.0, 2.0, 4.0, 8.0):
        exp.record(v)
    # shutdown() collects and exports once; a force_flush() first would export the
    # (cumulative) points a second time, which is correct OTLP but muddles the counts.
    provider.shutdown()

    where = f"ServiceName = '{service}'"
    # One request feeds four tables, each its own INSERT: wait until all have landed.
    for kind in ("gauge", "sum", "histogram", "exponential_histogram"):
        server.wait_for(f"SELECT count() FROM otel_metrics_{kind} WHERE {where}", 1)
    assert server.sql(
        f"SELECT Value, Attributes['queue'] FROM otel_metrics_gauge WHERE {where}"
    ) == [[7.0, "a"]]
    assert server.sql(
        f"SELECT Value, IsMonotonic, MetricUnit FROM otel_metrics_sum WHERE {where}"
    ) == [[5.0, True, "1"]]
    assert server.sql(f"SELECT Count, Sum, Min, Max FROM otel_metrics_histogram WHERE {where}") == [
        [3, 321.0, 1.0, 300.0]
    ]
    assert server.sql(
        "SELECT Count, Sum, arraySum(PositiveBucketCounts) "
        f"FROM otel_metrics_exponential_histogram WHERE {where}"
    ) == [[4, 15.0, 4]]


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_log_records_land_with_trace_context_and_attributes(
    server: ServerProcess, transport: str
) -> None:
    service = f"svc-l-{transport}-{uuid.uuid4().hex[:6]}"
    _, _, log_exporter = _exporters(server, transport)
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    processor = SimpleLogRecordProcessor(log_exporter)  # type: ignore[arg-type]
    logger_provider.add_log_record_processor(processor)
    tracer_provider = TracerProvider()
    py_logger = logging.getLogger(f"test.{service}")
    py_logger.propagate = False
    py_logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    py_logger.setLevel(logging.INFO)
    with tracer_provider.get_tracer("t").start_as_current_span("work") as span:
        py_logger.warning("drift detected on %s", "age", extra={"ml.model.name": "xgb"})
        ctx = span.get_span_context()
    logger_provider.shutdown()

    where = f"ServiceName = '{service}'"
    server.wait_for(f"SELECT count() FROM otel_logs WHERE {where}", 1)
    row = server.sql(
        "SELECT Body, SeverityText, SeverityNumber, TraceId, SpanId, "
        "LogAttributes['ml.model.name'], "
        f"Timestamp > now() - INTERVAL 1 HOUR FROM otel_logs WHERE {where}"
    )[0]
    assert row[:3] == ["drift detected on age", "WARN", 13]
    assert row[3] == format(ctx.trace_id, "032x") and row[4] == format(ctx.span_id, "016x")
    assert row[5] == "xgb" and row[6] in (1, True)


def test_sql_command_answers_from_a_running_server(server: ServerProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    deadline = time.monotonic() + 30
    out = ""
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-m", "driftline", "sql", "SELECT count() FROM otel_traces",
             "--server", server.endpoints["query_grpc"]],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        if out.strip():
            break
    assert "count()" in out
