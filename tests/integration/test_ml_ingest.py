"""Inference spans and label events fill the ML tables with typed values (DESIGN §4), through
the same Protobuf inserter and dedup tokens as the OTel tables."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.inserter import ProtobufInserter
from tests.engine_db import fresh_database
from tests.integration.test_storage_inserter import kv

NOW_NS = time.time_ns()


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "ml") as (client, target):
        yield client, target.database


@pytest.fixture
def inserter(db: tuple[Client, str], tmp_path: Path, chdb_dir: Path) -> ProtobufInserter:
    return ProtobufInserter(db[0], Target(embedded_path=str(chdb_dir), database=db[1]), tmp_path)


def _spans() -> tuple[ExportTraceServiceRequest, list[bytes]]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "scorer"), kv("service.version", "9.9")])
    spans = rs.scope_spans.add().spans
    ids = []
    # 1: our keys, typed features, explicit version and inference id.
    s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="predict")
    s.start_time_unix_nano, s.end_time_unix_nano = NOW_NS, NOW_NS + 7_000_000
    s.attributes.extend(
        [
            kv("ml.model.name", "fraud"), kv("ml.model.version", "3"),
            kv("ml.inference.id", "inf-1"), kv("ml.feature.age", 41.5),
            kv("ml.feature.n_items", 3), kv("ml.feature.is_new", True),
            kv("ml.feature.country", "DE"), kv("ml.feature.zip", "10115"),
            kv("ml.prediction", 1), kv("ml.prediction.score", 0.87), kv("http.route", "/p"),
            kv("tags", ["a", "b"]), kv("blob", b"\x00"), kv("ml.feature.list", ["x"]),
        ]
    )  # fmt: skip
    ids.append(s.span_id)
    # 2: a GenAI span: model from gen_ai.request.model, version from service.version, default
    # inference id, OpenInference token counts, an error status and a string prediction.
    s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="chat")
    s.start_time_unix_nano, s.end_time_unix_nano = NOW_NS, NOW_NS + 900_000_000
    s.status.code = 2
    s.attributes.extend(
        [
            kv("gen_ai.request.model", "llama"), kv("llm.token_count.prompt", 120),
            kv("gen_ai.usage.output_tokens", 33), kv("ml.prediction", "refusal"),
        ]
    )  # fmt: skip
    ids.append(s.span_id)
    # 3: not an inference: no model name anywhere.
    s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="db.query")
    s.start_time_unix_nano, s.end_time_unix_nano = NOW_NS, NOW_NS + 1_000
    s.attributes.extend([kv("ml.feature.age", 1.0)])
    return req, [req.SerializeToString()]


def test_inference_spans_become_inferences_and_typed_features(
    db: tuple[Client, str], inserter: ProtobufInserter
) -> None:
    client, database = db
    req, payloads = _spans()
    inserter.insert(Signal.TRACES, payloads, "ml-1")
    inserter.insert(Signal.TRACES, payloads, "ml-1")  # a replay: dropped as a duplicate
    rows = client.query(
        "SELECT ModelName, ModelVersion, InferenceId, ServiceName, SpanName, Duration, "
        f"StatusCode, Prediction, PredictionClass, Score FROM {database}.ml_inferences "
        "ORDER BY ModelName"
    ).result_rows
    assert len(rows) == 2
    fraud, llama = (rows[0], rows[1]) if rows[0][0] == "fraud" else (rows[1], rows[0])
    assert fraud[:7] == ("fraud", "3", "inf-1", "scorer", "predict", 7_000_000, "Unset")
    assert fraud[7:] == (1.0, "", 0.87)
    span2 = req.resource_spans[0].scope_spans[0].spans[1]
    assert llama[:7] == (
        "llama", "9.9", f"{span2.trace_id.hex()}-{span2.span_id.hex()}", "scorer", "chat",
        900_000_000, "Error",
    )  # fmt: skip
    assert math.isnan(llama[7]) and llama[8] == "refusal" and math.isnan(llama[9])

    features = client.query(
        "SELECT ModelName, Feature, Kind, Value, Category, ModelVersion "
        f"FROM {database}.ml_features "
        "ORDER BY ModelName, Feature"
    ).result_rows
    got = {(m, f): (k, v, c, ver) for m, f, k, v, c, ver in features}
    assert got.keys() == {
        ("fraud", "age"), ("fraud", "n_items"), ("fraud", "is_new"), ("fraud", "country"),
        ("fraud", "zip"), ("fraud", "ml.prediction"), ("fraud", "ml.prediction.score"),
        ("llama", "gen_ai.usage.input_tokens"), ("llama", "gen_ai.usage.output_tokens"),
        ("llama", "ml.prediction"),
    }  # fmt: skip
    assert got["fraud", "age"][:3] == ("numerical", 41.5, "")
    assert got["fraud", "n_items"][:2] == ("numerical", 3.0)
    assert got["fraud", "is_new"][:2] == ("numerical", 1.0)
    assert got["fraud", "zip"][0] == "categorical" and got["fraud", "zip"][2] == "10115"
    assert math.isnan(got["fraud", "country"][1]) and got["fraud", "country"][2] == "DE"
    assert got["llama", "gen_ai.usage.input_tokens"][:2] == ("numerical", 120.0)
    assert got["llama", "ml.prediction"][0] == "categorical"
    assert {v[3] for (m, _), v in got.items() if m == "llama"} == {"9.9"}


def test_label_events_become_labels(db: tuple[Client, str], inserter: ProtobufInserter) -> None:
    client, database = db
    req = ExportLogsServiceRequest()
    records = req.resource_logs.add().scope_logs.add().log_records
    r = records.add(time_unix_nano=NOW_NS, event_name="ml.label")
    r.attributes.extend([kv("ml.inference.id", "inf-1"), kv("ml.model.name", "fraud")])
    r.attributes.append(kv("ml.label", 0))
    r = records.add(observed_time_unix_nano=NOW_NS + 5)
    r.attributes.extend([kv("event.name", "ml.label"), kv("ml.inference.id", "inf-2")])
    r.attributes.extend([kv("ml.model.name", "cls"), kv("ml.label", "cat")])
    records.add(time_unix_nano=NOW_NS).body.string_value = "an ordinary log line"
    inserter.insert(Signal.LOGS, [req.SerializeToString()], "labels-1")
    rows = client.query(
        "SELECT ModelName, InferenceId, Label, LabelClass, Source, "
        f"toUnixTimestamp64Nano(Timestamp) FROM {database}.ml_labels ORDER BY InferenceId"
    ).result_rows
    assert rows[0] == ("fraud", "inf-1", 0.0, "", "otlp", NOW_NS)
    assert rows[1][:2] == ("cls", "inf-2") and math.isnan(rows[1][2])
    assert rows[1][3:] == ("cat", "otlp", NOW_NS + 5)
    assert len(rows) == 2
    assert client.command(f"SELECT count() FROM {database}.otel_logs") == 3
