"""The serving SDK against a real running collector: features, predictions, errors, sampling and
labels arrive as DESIGN §4 says; a dead collector never raises into the caller."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from driftline import sdk
from tests.serve import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("sdk")) as srv:
        yield srv


def providers(endpoint: str) -> tuple[TracerProvider, LoggerProvider]:
    resource = Resource.create({"service.name": "sdk-test", "service.version": "2.0"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    return tracer_provider, logger_provider


def test_tracked_calls_and_labels_arrive(server: ServerProcess) -> None:
    model = f"sdk-{uuid.uuid4().hex[:6]}"
    tracer_provider, logger_provider = providers(server.endpoints["otlp_grpc"])
    seen_ids: list[str] = []

    @sdk.track_inference(model=model, version="5", tracer_provider=tracer_provider)
    def predict(features: dict[str, object]) -> float:
        current = sdk.current_inference()
        assert current is not None
        seen_ids.append(current.id)
        return float(np.float64(0.25))

    @sdk.track_inference(model=model, tracer_provider=tracer_provider)
    async def predict_async(features: dict[str, object]) -> str:
        return "spam"

    @sdk.track_inference(model=model, tracer_provider=tracer_provider)
    def broken(features: dict[str, object]) -> float:
        raise KeyError("missing column")

    assert predict({"age": 41, "income": np.float32(1.5), "country": "DE", "skip": None}) == 0.25
    assert asyncio.run(predict_async({"age": 7})) == "spam"
    with pytest.raises(KeyError, match="missing column"):
        broken({"age": 1})
    row = np.array([3.0, 4.0])
    with sdk.track_inference(model=model, tracer_provider=tracer_provider) as inf:
        inf.features(row, names=["a", "b"])
        inf.prediction(1, score=0.9)
        ctx_id = inf.id
    unsampled = sdk.track_inference(model=model, sample_rate=0.0, tracer_provider=tracer_provider)
    with unsampled as quiet:
        quiet.features({"age": 99})
        quiet_id = quiet.id
    sdk.record_label(seen_ids[0], 1, model=model, logger_provider=logger_provider)
    sdk.record_label(ctx_id, "fraud", model=model, logger_provider=logger_provider)
    sdk.flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()

    where = f"ModelName = '{model}'"
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE {where}", 5)
    server.wait_for(f"SELECT count() FROM ml_labels WHERE {where}", 2)
    # ml_features is a separate INSERT from ml_inferences: wait for it too
    for version, feature in (("5", "country"), ("2.0", "b")):
        server.wait_for(
            f"SELECT count() > 0 FROM ml_features WHERE {where} "
            f"AND ModelVersion = '{version}' AND Feature = '{feature}'",
            1,
        )
    rows = {
        r[0]: r[1:]
        for r in server.sql(
            "SELECT InferenceId, ModelVersion, StatusCode, Prediction, PredictionClass, Score "
            f"FROM ml_inferences WHERE {where}"
        )
    }
    assert rows[seen_ids[0]][:4] == ["5", "Unset", 0.25, ""]
    assert rows[ctx_id][0] == "2.0"  # no version given: the resource's service.version
    assert rows[ctx_id][2:] == [1.0, "", 0.9]
    assert sorted(r[1] for r in rows.values()) == ["Error", "Unset", "Unset", "Unset", "Unset"]
    assert [r[3] for r in rows.values()].count("spam") == 1

    features = server.sql(
        f"SELECT Feature, Value, Category FROM ml_features WHERE {where} "
        f"AND Feature NOT LIKE 'ml.%' AND ModelVersion = '5'"
    )
    got = {r[0]: r for r in features}
    assert got.keys() == {"age", "income", "country"}  # None values are skipped
    assert got["age"][1:] == [41.0, ""] and got["income"][1:] == [1.5, ""]
    assert got["country"][2] == "DE"
    ctx_features = server.sql(
        f"SELECT Feature, Value FROM ml_features WHERE {where} AND ModelVersion = '2.0' "
        "AND Feature IN ('a', 'b') ORDER BY Feature"
    )
    assert ctx_features == [["a", 3.0], ["b", 4.0]]
    assert (
        server.scalar(
            f"SELECT count() FROM ml_features WHERE {where} AND Feature = 'age' AND Value = 99"
        )
        == 0
    ), "features were captured although sample_rate=0"
    assert quiet_id in rows  # ... but the inference and its latency were recorded
    labels = server.sql(
        f"SELECT InferenceId, Label, LabelClass FROM ml_labels WHERE {where} ORDER BY LabelClass"
    )
    assert [(r[0], r[2]) for r in labels] == [(seen_ids[0], ""), (ctx_id, "fraud")]
    assert labels[0][1] == 1.0


def test_a_dead_collector_never_raises_and_memory_stays_bounded() -> None:
    errors_before = sdk.sdk_errors()
    provider = TracerProvider()
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint="127.0.0.1:1", insecure=True, timeout=1),
        max_queue_size=256,
        max_export_batch_size=128,
        schedule_delay_millis=50,
    )
    provider.add_span_processor(processor)
    tracked = sdk.track_inference(model="m", tracer_provider=provider)
    for i in range(3000):
        with tracked as inf:
            inf.features({"x": i, "y": "a" * 10_000})  # value length is capped too
            inf.prediction(i)
    sdk.flush()
    # The SDK adds no buffer of its own; the OTel batch processor's queue is the bound.
    queue = processor._batch_processor._queue
    assert queue.maxlen == 256 and len(queue) <= 256
    provider.shutdown()
    assert sdk.sdk_errors() == errors_before  # export failures are the exporter's, not ours


def test_immediate_mode_nests_the_model_code_spans(server: ServerProcess) -> None:
    model = f"nest-{uuid.uuid4().hex[:6]}"
    tracer_provider, _ = providers(server.endpoints["otlp_grpc"])
    tracked = sdk.track_inference(model=model, deferred=False, tracer_provider=tracer_provider)
    with tracked, tracer_provider.get_tracer("model").start_as_current_span("tokenize"):
        pass
    tracer_provider.shutdown()
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{model}'", 1)
    span_id = server.scalar(f"SELECT SpanId FROM ml_inferences WHERE ModelName = '{model}'")
    server.wait_for(
        "SELECT count() FROM otel_traces "
        f"WHERE SpanName = 'tokenize' AND ParentSpanId = '{span_id}'",
        1,
    )


def test_sdk_failures_are_counted_not_raised() -> None:
    before = sdk.sdk_errors()
    with sdk.track_inference(model="m", tracer_provider=TracerProvider()) as inf:
        inf.features([1.0, 2.0])  # a sequence without names
    assert sdk.sdk_errors() == before + 1


def test_configure_honours_the_otel_environment(server: ServerProcess) -> None:
    service = f"env-{uuid.uuid4().hex[:6]}"
    script = textwrap.dedent(
        """
        from driftline import sdk
        configured = sdk.configure()
        with sdk.track_inference(model="envmodel") as inf:
            inf.features({"k": 1})
        configured.shutdown()
        """
    )
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{server.endpoints['otlp_grpc']}",
        "OTEL_SERVICE_NAME": service,
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
    }
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ServiceName = '{service}'", 1)
    # the sink's two insert lanes land ml_inferences and otel_traces independently
    server.wait_for(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 1)
    resource = server.sql(
        f"SELECT ResourceAttributes['deployment.environment.name'] FROM otel_traces "
        f"WHERE ServiceName = '{service}'"
    )
    assert resource == [["test"]]
