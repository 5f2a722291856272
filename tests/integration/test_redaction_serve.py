"""Processors at ingest, end to end: a real `driftline serve` with `processors.redaction`
configured receives spans, logs and metrics from the opentelemetry-sdk OTLP exporters; the
stored rows (read back through the query API) hold none of the redacted values — in
otel_traces, otel_logs, the metric tables and the ML tables — and every hashed value equals
hashlib's. With `enrichment.apply_to: both`, stored spans carry the enrichment. An invalid regex
in the config stops `serve` with an error naming the key."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration

SALT = "pepper"
CONFIG = f"""
processors:
  redaction:
    drop_keys: [ml.feature.ssn, user.password]
    hash_keys: [ml.feature.user_id, enduser.id]
    salt: {SALT}
    patterns:
      - {{name: email}}
      - {{name: credit_card}}
      - {{name: ticket, regex: 'TCK-[0-9]{{6}}', action: hash}}
  enrichment:
    normalize_model: true
    slo: true
    static_attributes: {{resource: {{deployment.environment: itest}}}}
    apply_to: both
analysis:
  slos: [{{model: slo-model, latency: 250ms}}]
"""
SECRETS = ("bob@example.com", "ops@example.com", "eve@example.org", "c@d.io", "4111 1111 1111 1111")
SECRETS += ("TCK-123456", "123-45-6789", "hunter2", "u-17", "eve-42")


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256((SALT + text).encode()).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("redaction"), config=CONFIG) as srv:
        yield srv


def test_stored_rows_hold_no_redacted_value(server: ServerProcess) -> None:
    model = f"m-{uuid.uuid4().hex[:6]}"
    endpoint = server.endpoints["otlp_grpc"]
    resource = Resource.create({"service.name": "scorer", "owner": "ops@example.com"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = tracer_provider.get_tracer("serving")
    for i in range(10):
        with tracer.start_as_current_span("predict") as span:
            span.set_attributes(
                {
                    "ml.model.name": model,
                    "ml.feature.contact": "bob@example.com",
                    "ml.feature.user_id": "u-17",
                    "ml.feature.ssn": "123-45-6789",
                    "ml.feature.age": 30.0 + i,
                    "user.password": "hunter2",
                    "note": "paid 4111 1111 1111 1111, ref TCK-123456, order 4111 1111 1111 1112",
                    "tags": ["x", "bob@example.com"],
                }
            )
            span.add_event("lookup", {"who": "bob@example.com"})
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    py_logger = logging.getLogger(f"redaction.{model}")
    py_logger.propagate = False
    py_logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    py_logger.error("login failed for eve@example.org (%s)", model, extra={"enduser.id": "eve-42"})
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("serving").create_counter(f"requests_{model[2:]}")
    counter.add(3, {"customer": "c@d.io", "model": model})
    meter_provider.shutdown()  # flushes

    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{model}'", 10)
    server.wait_for(f"SELECT count() FROM otel_logs WHERE Body LIKE '%{model}%'", 1)
    server.wait_for(
        f"SELECT count() FROM otel_metrics_sum WHERE Attributes['model'] = '{model}'", 1
    )

    # Row by row: what each rule left in its place.
    [[resource_attrs, event_attrs]] = server.sql(
        "SELECT toString(ResourceAttributes), "
        f"toString(Events.Attributes) FROM otel_traces WHERE SpanAttributes['ml.model.name'] = "
        f"'{model}' LIMIT 1"
    )
    span_attrs = dict(
        server.sql(
            "SELECT k, v FROM otel_traces ARRAY JOIN mapKeys(SpanAttributes) AS k, "
            f"mapValues(SpanAttributes) AS v WHERE SpanAttributes['ml.model.name'] = '{model}' "
            "LIMIT 1 BY k"
        )
    )
    assert span_attrs["ml.feature.contact"] == "[redacted:email]"
    assert span_attrs["ml.feature.user_id"] == sha("u-17")
    assert "ml.feature.ssn" not in span_attrs and "user.password" not in span_attrs
    assert span_attrs["note"] == (
        f"paid [redacted:credit_card], ref {sha('TCK-123456')}, order 4111 1111 1111 1112"
    )
    assert "[redacted:email]" in span_attrs["tags"] and "bob@" not in span_attrs["tags"]
    assert "[redacted:email]" in resource_attrs and "[redacted:email]" in event_attrs

    features = dict(
        server.sql(
            f"SELECT Feature, any(Category) FROM ml_features WHERE ModelName = '{model}' "
            "GROUP BY Feature"
        )
    )
    assert features["contact"] == "[redacted:email]"
    assert features["user_id"] == sha("u-17")
    assert "ssn" not in features and "age" in features

    [[body, log_user]] = server.sql(
        f"SELECT Body, LogAttributes['enduser.id'] FROM otel_logs WHERE Body LIKE '%{model}%'"
    )
    assert body == f"login failed for [redacted:email] ({model})"
    assert log_user == sha("eve-42")
    [[customer]] = server.sql(
        f"SELECT Attributes['customer'] FROM otel_metrics_sum WHERE Attributes['model'] = '{model}'"
    )
    assert customer == "[redacted:email]"

    # And nowhere: every string column of every table the data reached, searched whole.
    searched = {
        "otel_traces": "concat(toString(SpanAttributes), toString(ResourceAttributes), "
        "toString(Events.Attributes), toString(Links.Attributes), SpanName)",
        "otel_logs": "concat(Body, toString(LogAttributes), toString(ResourceAttributes))",
        "otel_metrics_sum": "concat(toString(Attributes), toString(ResourceAttributes))",
        "ml_features": "Category",
        "ml_inferences": "concat(InferenceId, PredictionClass, ServiceName)",
    }
    for table, text in searched.items():
        for secret in SECRETS:
            found = server.scalar(
                f"SELECT count() FROM {table} WHERE position({text}, '{secret}') > 0"
            )
            assert found == 0, (table, secret)


def test_an_invalid_regex_stops_serve_with_the_key_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("processors:\n  redaction:\n    patterns:\n      - {name: x, regex: '[a-'}\n")
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "serve", "--config", str(config),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "processors.redaction.patterns[0].regex: not a valid regular expression" in done.stderr
    assert not (tmp_path / "data" / "endpoints.json").exists()


def test_enrichment_applied_to_both_is_stored(server: ServerProcess) -> None:
    endpoint = server.endpoints["otlp_grpc"]
    run = uuid.uuid4().hex[:8]
    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": "llm", "service.version": "v3"})
    )
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = tracer_provider.get_tracer("serving")
    start = time.time_ns()
    for i, millis in enumerate((100, 400, 240, 900)):
        span = tracer.start_span(
            "chat",
            start_time=start + i,
            attributes={"gen_ai.request.model": "slo-model", "run": run},
        )
        span.end(end_time=start + i + millis * 1_000_000)
    tracer_provider.shutdown()
    server.wait_for(f"SELECT count() FROM otel_traces WHERE SpanAttributes['run'] = '{run}'", 4)
    rows = server.sql(
        "SELECT SpanAttributes['ml.model.name'], SpanAttributes['ml.model.version'], "
        "SpanAttributes['driftline.slo.breached'], ResourceAttributes['deployment.environment'] "
        f"FROM otel_traces WHERE SpanAttributes['run'] = '{run}' ORDER BY Duration"
    )
    assert rows == [
        ["slo-model", "v3", "false", "itest"],
        ["slo-model", "v3", "false", "itest"],
        ["slo-model", "v3", "true", "itest"],
        ["slo-model", "v3", "true", "itest"],
    ]


def test_the_http_receiver_redacts_protobuf_and_json_bodies(server: ServerProcess) -> None:
    run = uuid.uuid4().hex[:8]
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "http-client"}))
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            HttpSpanExporter(endpoint=f"http://{server.endpoints['otlp_http']}/v1/traces")
        )
    )
    with tracer_provider.get_tracer("t").start_as_current_span("via-protobuf") as span:
        span.set_attributes({"run": run, "who": "bob@example.com", "user.password": "hunter2"})
    tracer_provider.shutdown()

    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": uuid.uuid4().hex,
                                "spanId": uuid.uuid4().hex[:16],
                                "name": "via-json",
                                "startTimeUnixNano": str(time.time_ns()),
                                "endTimeUnixNano": str(time.time_ns() + 1000),
                                "attributes": [
                                    {"key": "run", "value": {"stringValue": run}},
                                    {"key": "who", "value": {"stringValue": "eve@example.org"}},
                                    {"key": "enduser.id", "value": {"stringValue": "eve-42"}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    post = urllib.request.Request(
        f"http://{server.endpoints['otlp_http']}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(post, timeout=30) as response:
        assert response.status == 200

    server.wait_for(f"SELECT count() FROM otel_traces WHERE SpanAttributes['run'] = '{run}'", 2)
    rows = server.sql(
        "SELECT SpanName, SpanAttributes['who'], mapContains(SpanAttributes, 'user.password'), "
        f"SpanAttributes['enduser.id'] FROM otel_traces WHERE SpanAttributes['run'] = '{run}' "
        "ORDER BY SpanName"
    )
    assert rows == [
        ["via-json", "[redacted:email]", False, sha("eve-42")],
        ["via-protobuf", "[redacted:email]", False, ""],
    ]


def test_labels_recorded_through_the_query_api_are_redacted_too(server: ServerProcess) -> None:
    model = f"m-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "label", model, "inf-1", "eve@example.org", "--class",
         "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model}'", 1)
    label = server.scalar(f"SELECT LabelClass FROM ml_labels WHERE ModelName = '{model}'")
    assert label == "[redacted:email]"


def test_changed_requests_are_counted_on_metrics(server: ServerProcess) -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True))
    )
    with tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("who", "bob@example.com")
    tracer_provider.shutdown()
    with urllib.request.urlopen(f"http://{server.endpoints['metrics']}/metrics", timeout=30) as r:
        text = r.read().decode()
    [line] = [
        line
        for line in text.splitlines()
        if line.startswith('driftline_receiver_transformed_requests_total{signal="traces"}')
    ]
    assert float(line.split()[-1]) >= 1
