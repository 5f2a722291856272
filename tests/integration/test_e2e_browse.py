"""End to end through the OTel SDK: inference spans become models, traces and logs that the
browsing commands (`driftline models|trace|logs|label`) answer, and labels sent with
RecordLabels land in ml_labels through the WAL."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("browse")) as srv:
        yield srv


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", server.endpoints["query_grpc"]],
        capture_output=True,
        text=True,
    )


def cli_json(server: ServerProcess, *args: str) -> list[dict[str, object]]:
    done = cli(server, *args, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    names = [c["name"] for c in doc["columns"]]
    return [dict(zip(names, row, strict=True)) for row in doc["rows"]]


def test_models_traces_logs_and_labels(server: ServerProcess) -> None:
    model = f"m-{uuid.uuid4().hex[:6]}"
    endpoint = server.endpoints["otlp_grpc"]
    resource = Resource.create({"service.name": "scorer", "service.version": "7"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = tracer_provider.get_tracer("serving")
    rng = np.random.default_rng(7)
    ages = rng.normal(40, 10, size=20)
    with tracer.start_as_current_span("request") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        for i, age in enumerate(ages):
            with tracer.start_as_current_span("predict") as span:
                span.set_attributes(
                    {
                        "ml.model.name": model,
                        "ml.inference.id": f"{model}-{i}",
                        "ml.feature.age": float(age),
                        "ml.feature.country": "DE" if i % 2 else "FR",
                        "ml.prediction": i % 2,
                        "ml.prediction.score": 0.9 if i % 2 else 0.2,
                    }
                )
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    py_logger = logging.getLogger(f"browse.{model}")
    py_logger.propagate = False
    py_logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    with tracer_provider.get_tracer("x").start_as_current_span("ignored"):
        py_logger.error("feature store timeout for %s", model)
    logger_provider.shutdown()

    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{model}'", 20)
    server.wait_for(
        f"SELECT count() FROM ml_features WHERE ModelName = '{model}' AND Feature = 'age'", 20
    )
    stored = server.sql(
        f"SELECT Value FROM ml_features WHERE ModelName = '{model}' AND Feature = 'age' "
        "ORDER BY Timestamp"
    )
    assert np.allclose(sorted(r[0] for r in stored), sorted(ages))

    models = [m for m in cli_json(server, "models") if m["model"] == model]
    assert len(models) == 1 and models[0]["version"] == "7" and models[0]["inferences"] == 20

    spans = cli_json(server, "trace", trace_id)
    assert [s["name"] for s in spans].count("predict") == 20 and spans[0]["name"] == "request"
    missing = cli(server, "trace", "0" * 32)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    bad = cli(server, "trace", "xyz")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr

    server.wait_for(f"SELECT count() FROM otel_logs WHERE Body LIKE '%{model}%'", 1)
    logs = cli_json(server, "logs", "--severity", "ERROR", "--grep", model.upper())
    assert [entry["body"] for entry in logs] == [f"feature store timeout for {model}"]
    assert cli_json(server, "logs", "--severity", "FATAL", "--grep", model) == []

    for i in range(3):
        done = cli(server, "label", model, f"{model}-{i}", str(i % 2))
        assert done.returncode == 0 and "1 label(s) accepted" in done.stdout, done.stderr
    done = cli(server, "label", model, f"{model}-3", "spam", "--class")
    assert done.returncode == 0, done.stderr
    assert cli(server, "label", model, "x", "not-a-number").returncode == 2
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model}'", 4)
    labels = server.sql(
        f"SELECT InferenceId, Label, LabelClass, Source FROM ml_labels WHERE ModelName = '{model}' "
        "ORDER BY InferenceId"
    )
    assert [r[0] for r in labels] == [f"{model}-{i}" for i in range(4)]
    assert [r[1] for r in labels[:3]] == [0.0, 1.0, 0.0]
    assert labels[3][2] == "spam" and {r[3] for r in labels} == {"api"}
