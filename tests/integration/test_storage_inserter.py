"""The Protobuf inserter on the real embedded engine: values as the exporter writes them, and
exactly-once replays through insert_deduplication_token."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from driftline.errors import PermanentError
from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.inserter import ProtobufInserter
from driftline.storage.migrate import applied_versions, migrate
from driftline.storage.schema import MIGRATIONS, DdlContext
from tests.engine_db import fresh_database

NOW_NS = time.time_ns()


def kv(key: str, value: object) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, bytes):
        any_value.bytes_value = value
    elif isinstance(value, list):
        any_value.array_value.values.extend(AnyValue(string_value=v) for v in value)
    elif isinstance(value, dict):
        for k, v in value.items():
            any_value.kvlist_value.values.append(KeyValue(key=k, value=AnyValue(int_value=v)))
    else:
        any_value.string_value = str(value)
    return KeyValue(key=key, value=any_value)


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "t") as made:
        yield made


@pytest.fixture
def inserter(db: tuple[Client, Target], tmp_path: Path) -> ProtobufInserter:
    return ProtobufInserter(db[0], db[1], tmp_path)


def _span_request(n: int, service: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", service), kv("host.name", "h1")])
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "scope", "1.2"
    for i in range(n):
        s = ss.spans.add()
        s.trace_id = os.urandom(16)
        s.span_id = os.urandom(8)
        s.parent_span_id = os.urandom(8) if i % 2 else b""
        s.name = "infer"
        s.kind = 2
        s.start_time_unix_nano = NOW_NS + i
        s.end_time_unix_nano = NOW_NS + i + 4_000_000
        s.status.code = 2
        s.status.message = "boom"
    return req


def test_span_columns_are_written_as_the_contrib_exporter_writes_them(
    db: tuple[Client, Target], inserter: ProtobufInserter
) -> None:
    client, target = db
    req = _span_request(1, "svc-values")
    span = req.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend(
        [
            kv("s", "text"), kv("empty", ""), kv("i0", 0), kv("i", -42), kv("b", False),
            kv("d", 2.5), kv("raw", b"\x00\xff"), kv("arr", ["a", "b"]), kv("map", {"x": 1}),
        ]
    )  # fmt: skip
    ev = span.events.add()
    ev.name, ev.time_unix_nano = "exception", NOW_NS + 10
    ev.attributes.append(kv("exception.type", "ValueError"))
    link = span.links.add()
    link.trace_id, link.span_id, link.trace_state = os.urandom(16), os.urandom(8), "k=v"
    inserter.insert(Signal.TRACES, [req.SerializeToString()], "t-values")
    row = client.query(
        f"SELECT TraceId, SpanId, ParentSpanId, SpanKind, ServiceName, ScopeName, ScopeVersion, "
        f"SpanAttributes, Duration, StatusCode, StatusMessage, Events.Name, Events.Attributes, "
        f"Links.TraceId, Links.SpanId, Links.TraceState, toUnixTimestamp64Nano(Timestamp), "
        f"ResourceAttributes FROM {target.database}.otel_traces WHERE ServiceName = 'svc-values'"
    ).result_rows
    assert len(row) == 1
    (trace_id, span_id, parent, kind, service, scope, scope_v, attrs, duration, status,
     status_msg, ev_names, ev_attrs, l_trace, l_span, l_state, ts, resource) = row[0]  # fmt: skip
    assert trace_id == span.trace_id.hex() and span_id == span.span_id.hex() and parent == ""
    assert (kind, service, scope, scope_v) == ("Server", "svc-values", "scope", "1.2")
    assert attrs == {
        "s": "text", "empty": "", "i0": "0", "i": "-42", "b": "false", "d": "2.5",
        "raw": base64.b64encode(b"\x00\xff").decode(), "arr": '["a","b"]', "map": '{"x":1}',
    }  # fmt: skip
    assert duration == 4_000_000 and status == "Error" and status_msg == "boom"
    assert ev_names == ["exception"] and ev_attrs == [{"exception.type": "ValueError"}]
    assert l_trace == [link.trace_id.hex()] and l_span == [link.span_id.hex()]
    assert l_state == ["k=v"] and ts == NOW_NS
    assert resource == {"service.name": "svc-values", "host.name": "h1"}


def test_replaying_the_same_range_is_exactly_once_including_the_trace_id_view(
    db: tuple[Client, Target], inserter: ProtobufInserter
) -> None:
    client, target = db
    payloads = [_span_request(50, "svc-dedup").SerializeToString() for _ in range(4)]
    for _ in range(3):
        inserter.insert(Signal.TRACES, payloads, "wal-1-4")
    count = f"SELECT count() FROM {target.database}.otel_traces WHERE ServiceName = 'svc-dedup'"
    assert client.query(count).result_rows[0][0] == 200
    ids = client.query(
        f"SELECT count() FROM {target.database}.otel_traces_trace_id_ts WHERE TraceId IN "
        f"(SELECT TraceId FROM {target.database}.otel_traces WHERE ServiceName = 'svc-dedup')"
    ).result_rows[0][0]
    assert ids == 200
    inserter.insert(Signal.TRACES, payloads, "wal-5-8")  # another range is new data
    assert client.query(count).result_rows[0][0] == 400


def test_metrics_of_every_type_land_in_their_tables(
    db: tuple[Client, Target], inserter: ProtobufInserter
) -> None:
    client, target = db
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", "svc-metrics"))
    sm = rm.scope_metrics.add()
    g = sm.metrics.add(name="g", unit="1")
    g.gauge.data_points.add(time_unix_nano=NOW_NS, as_int=7).attributes.append(kv("k", "v"))
    s = sm.metrics.add(name="s")
    s.sum.aggregation_temporality, s.sum.is_monotonic = 2, True
    s.sum.data_points.add(time_unix_nano=NOW_NS, as_double=1.5)
    h = sm.metrics.add(name="h")
    hp = h.histogram.data_points.add(time_unix_nano=NOW_NS, count=3, sum=6.0, min=1.0, max=3.0)
    hp.bucket_counts.extend([1, 2, 0])
    hp.explicit_bounds.extend([1.0, 2.0])
    ex = hp.exemplars.add(
        time_unix_nano=NOW_NS, as_double=2.0, span_id=b"\x01" * 8, trace_id=b"\x02" * 16
    )
    ex.filtered_attributes.append(kv("f", 1))
    e = sm.metrics.add(name="e")
    ep = e.exponential_histogram.data_points.add(
        time_unix_nano=NOW_NS, count=4, scale=3, zero_count=1
    )
    ep.positive.offset = -2
    ep.positive.bucket_counts.extend([1, 2])
    q = sm.metrics.add(name="q")
    q.summary.data_points.add(time_unix_nano=NOW_NS, count=2, sum=3.0).quantile_values.add(
        quantile=0.5, value=1.5
    )
    inserter.insert(Signal.METRICS, [req.SerializeToString()], "m-1")
    db_ = target.database
    assert client.query(
        f"SELECT Value, Attributes, MetricUnit FROM {db_}.otel_metrics_gauge WHERE MetricName='g'"
    ).result_rows == [(7.0, {"k": "v"}, "1")]
    assert client.query(
        f"SELECT Value, IsMonotonic, AggregationTemporality FROM {db_}.otel_metrics_sum"
    ).result_rows == [(1.5, True, 2)]
    assert client.query(
        "SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max, Exemplars.Value, "
        "Exemplars.SpanId, "
        f"Exemplars.TraceId, Exemplars.FilteredAttributes FROM {db_}.otel_metrics_histogram"
    ).result_rows == [
        (3, 6.0, [1, 2, 0], [1.0, 2.0], 1.0, 3.0, [2.0], ["01" * 8], ["02" * 16], [{"f": "1"}])
    ]
    assert client.query(
        "SELECT Count, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts "
        f"FROM {db_}.otel_metrics_exponential_histogram"
    ).result_rows == [(4, 3, 1, -2, [1, 2])]
    assert client.query(
        "SELECT Count, ValueAtQuantiles.Quantile, ValueAtQuantiles.Value "
        f"FROM {db_}.otel_metrics_summary"
    ).result_rows == [(2, [0.5], [1.5])]
    assert client.query(f"SELECT ServiceName FROM {db_}.otel_metrics_gauge").result_rows == [
        ("svc-metrics",)
    ]


def test_log_records_use_observed_time_when_time_is_unset(
    db: tuple[Client, Target], inserter: ProtobufInserter
) -> None:
    client, target = db
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", "svc-logs"))
    sl = rl.scope_logs.add()
    rec = sl.log_records.add(
        observed_time_unix_nano=NOW_NS, severity_number=17, severity_text="ERROR"
    )
    rec.body.string_value = "model failed"
    rec.trace_id, rec.span_id, rec.event_name = b"\x03" * 16, b"\x04" * 8, "ml.label"
    rec.attributes.append(kv("ml.label", 1.0))
    inserter.insert(Signal.LOGS, [req.SerializeToString()], "l-1")
    rows = client.query(
        f"SELECT toUnixTimestamp64Nano(Timestamp), SeverityNumber, SeverityText, Body, TraceId, "
        f"SpanId, EventName, LogAttributes FROM {target.database}.otel_logs"
    ).result_rows
    assert rows == [
        (NOW_NS, 17, "ERROR", "model failed", "03" * 16, "04" * 8, "ml.label", {"ml.label": "1"})
    ]


def test_garbage_payload_is_a_permanent_error(inserter: ProtobufInserter) -> None:
    with pytest.raises(PermanentError):
        inserter.insert(Signal.TRACES, [b"\xff\xff\xff\xff garbage"], "g-1")


def test_migrations_are_idempotent_and_recorded(db: tuple[Client, Target]) -> None:
    client, target = db
    ctx = DdlContext(database=target.database)
    assert migrate(client, ctx) == []
    assert applied_versions(client, ctx) == {m.version for m in MIGRATIONS}
