"""One decode per trace batch (the span staging table and its views), in parallel sub-ranges,
exactly once in every table the batch feeds — including a replay after a failure that struck
between two of the views."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.errors import RetryableError
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.ingest_plan import tables_fed
from driftline.storage.inserter import ProtobufInserter, subranges
from tests.engine_db import fresh_database

SPANS = 50
FEATURES = ("age", "amount", "country")  # + ml.prediction → 4 ml_features rows per span


def _request(batch: int) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "decode-once"
    spans = rs.scope_spans.add().spans
    now = time.time_ns()
    for i in range(SPANS):
        s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer", kind=2)
        s.start_time_unix_nano, s.end_time_unix_nano = now + i, now + i + 5000
        a = s.attributes
        a.add(key="ml.model.name").value.string_value = "m"
        a.add(key="ml.inference.id").value.string_value = f"{batch}-{i}"
        a.add(key="ml.feature.age").value.int_value = 30 + i
        a.add(key="ml.feature.amount").value.double_value = 1.5 * i
        a.add(key="ml.feature.country").value.string_value = "DE"
        a.add(key="ml.prediction").value.double_value = 0.25
    return req.SerializeToString()


@pytest.fixture
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "once") as made:
        yield made


def _counts(db: tuple[Client, Target]) -> dict[str, int]:
    client, target = db
    out = {}
    for table in tables_fed(Signal.TRACES):
        column = "uniqExact(TraceId)" if table == "otel_traces_trace_id_ts" else "count()"
        out[table] = int(client.command(f"SELECT {column} FROM `{target.database}`.`{table}`"))
    return out


def _expected(requests: int) -> dict[str, int]:
    spans = requests * SPANS
    return {
        "otel_traces": spans,
        "ml_inferences": spans,
        "ml_features": spans * (len(FEATURES) + 1),
        "otel_traces_trace_id_ts": spans,
    }


def test_sub_ranges_are_a_function_of_the_payload_sizes_only() -> None:
    sizes = [b"x" * n for n in (5, 5, 5, 12, 1, 1)]
    assert subranges(sizes, 10) == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert subranges(sizes, 1000) == [(0, 6)]
    assert subranges([], 10) == []
    every = subranges(sizes, 1)  # a record larger than the limit is never split
    assert every == [(i, i + 1) for i in range(6)]


def test_parallel_sub_ranges_land_once_and_a_replay_lands_nothing(
    db: tuple[Client, Target], tmp_path: Path
) -> None:
    client, target = db
    payloads = [_request(b) for b in range(6)]
    inserter = ProtobufInserter(
        client, target, tmp_path, extra_clients=[connect(target)],
        subrange_bytes=len(payloads[0]) * 2,
    )  # fmt: skip
    assert len(subranges(payloads, len(payloads[0]) * 2)) == 3
    ids = list(range(100, 106))
    inserter.insert(Signal.TRACES, payloads, "wal-100-105", ids=ids)
    assert _counts(db) == _expected(6)
    inserter.insert(Signal.TRACES, payloads, "wal-100-105", ids=ids)  # replay after a crash
    assert _counts(db) == _expected(6)
    # the views see attribute types: the int feature is numerical, the string categorical
    kinds = client.query(
        f"SELECT Feature, any(Kind), any(Category) FROM `{target.database}`.ml_features "
        "GROUP BY Feature ORDER BY Feature"
    ).result_rows
    assert kinds == [
        ("age", "numerical", ""), ("amount", "numerical", ""),
        ("country", "categorical", "DE"), ("ml.prediction", "numerical", ""),
    ]  # fmt: skip


def test_a_failure_between_two_views_is_completed_by_the_replay_without_duplicates(
    db: tuple[Client, Target], tmp_path: Path
) -> None:
    """A view that fails after the others wrote their blocks (as a kill between them would
    leave it): the replay with the same token fills only what is missing."""
    client, target = db
    database = target.database
    # The probe's table refuses every row until its constraint is dropped. Its view reads
    # otel_traces (a view of the staging table), so it fails after otel_traces committed.
    client.command(
        f"CREATE TABLE `{database}`.probe (n UInt64, CONSTRAINT down CHECK n = 0) "
        "ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100"
    )
    client.command(
        f"CREATE MATERIALIZED VIEW `{database}`.zz_probe_mv TO `{database}`.probe AS "
        f"SELECT toUInt64(toUnixTimestamp64Nano(Timestamp)) AS n FROM `{database}`.otel_traces"
    )
    inserter = ProtobufInserter(client, target, tmp_path)
    payloads = [_request(b) for b in range(2)]
    with pytest.raises(RetryableError, match="down"):
        inserter.insert(Signal.TRACES, payloads, "wal-7-8", ids=[7, 8])
    partial = _counts(db)
    assert partial != _expected(2) and any(partial.values()), partial  # it struck in between
    client.command(f"ALTER TABLE `{database}`.probe DROP CONSTRAINT down")
    inserter.insert(Signal.TRACES, payloads, "wal-7-8", ids=[7, 8])
    assert _counts(db) == _expected(2)
    assert int(client.command(f"SELECT count() FROM `{database}`.probe")) == 2 * SPANS
