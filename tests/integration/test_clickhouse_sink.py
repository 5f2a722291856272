"""The ClickHouse sink over a real WAL and the real embedded engine: batches land and are
acknowledged; storage down means retry with nothing lost; a request the engine refuses is set
aside alone; a crash between INSERT and acknowledgement replays exactly-once."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.config.model import BatchConfig, ClickHouseConfig, RetryConfig, WalConfig
from driftline.errors import RetryableError, UnavailableError
from driftline.export.clickhouse.plan import BatchPlan, PlanFile
from driftline.export.clickhouse.sink import CURSOR, ClickHouseSink
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.inserter import ProtobufInserter, length_delimited
from driftline.wal import Wal
from tests.engine_db import fresh_database

FAST_RETRY = RetryConfig(initial_interval_s=0.01, max_interval_s=0.05, randomization_factor=0.1)
CONFIG = ClickHouseConfig(
    batch=BatchConfig(max_rows=50, flush_interval_s=0.05), retry_on_failure=FAST_RETRY
)


@pytest.fixture
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "sink") as made:
        yield made


@pytest.fixture
def wal(tmp_path: Path) -> Iterator[Wal]:
    log = Wal.open(WalConfig(sync="never"), tmp_path / "wal", cursors=[CURSOR])
    yield log
    log.close()


def spans(batch: str, n: int = 10) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "sink-test"
    rs.resource.attributes.add(key="batch").value.string_value = batch
    out = rs.scope_spans.add().spans
    for i in range(n):
        s = out.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer")
        s.start_time_unix_nano = time.time_ns() + i
        s.end_time_unix_nano = s.start_time_unix_nano + 1000
    return req.SerializeToString()


def stored(db: tuple[Client, Target]) -> dict[str, int]:
    client, target = db
    rows = client.query(
        f"SELECT ResourceAttributes['batch'], count() FROM {target.database}.otel_traces GROUP BY 1"
    ).result_rows
    return {str(b): int(c) for b, c in rows}


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def lag(wal: Wal) -> int:
    return wal.stats().cursors[CURSOR].lag_records


class FlakyStorage:
    """The real inserter behind a switch: while `down`, every INSERT fails as a network error
    would (the engine cannot be taken down inside this process)."""

    def __init__(self, inner: ProtobufInserter) -> None:
        self.inner = inner
        self.down = False
        self.failures = 0
        self.after_insert: Callable[[], None] | None = None

    def insert(
        self,
        signal: Signal,
        payloads: Sequence[bytes],
        token: str,
        tables: Collection[str] | None = None,
        *,
        ids: Sequence[int] | None = None,
    ) -> None:
        if self.down:
            self.failures += 1
            raise UnavailableError("Connection refused (storage down)")
        self.inner.insert(signal, payloads, token, tables, ids=ids)
        if self.after_insert is not None:
            self.after_insert()


def test_batches_land_and_are_acknowledged(
    db: tuple[Client, Target], wal: Wal, tmp_path: Path
) -> None:
    client, target = db
    sink = ClickHouseSink(
        wal, ProtobufInserter(client, target, tmp_path / "tmp"), CONFIG, tmp_path / "state"
    )
    for i in range(12):
        wal.append(Signal.TRACES, spans(f"b{i}"))
    sink.start()
    try:
        wait_until(lambda: lag(wal) == 0)
    finally:
        sink.stop()
    assert stored(db) == {f"b{i}": 10 for i in range(12)}
    assert sink.batches_done >= 3  # max_rows=50 with 10 spans a request: several batches


def test_storage_down_retries_and_loses_nothing(
    db: tuple[Client, Target], wal: Wal, tmp_path: Path
) -> None:
    client, target = db
    storage = FlakyStorage(ProtobufInserter(client, target, tmp_path / "tmp"))
    storage.down = True
    sink = ClickHouseSink(wal, storage, CONFIG, tmp_path / "state")
    sink.start()
    try:
        for i in range(5):
            wal.append(Signal.TRACES, spans(f"d{i}"))
        wait_until(lambda: storage.failures >= 3)
        assert lag(wal) == 5  # nothing acknowledged while storage is down
        assert "storage down" in sink.last_error
        storage.down = False
        wait_until(lambda: lag(wal) == 0)
    finally:
        sink.stop()
    assert stored(db) == {f"d{i}": 10 for i in range(5)}


def test_a_refused_request_is_set_aside_alone(
    db: tuple[Client, Target], wal: Wal, tmp_path: Path
) -> None:
    client, target = db
    set_aside: list[tuple[int, str]] = []
    sink = ClickHouseSink(
        wal,
        ProtobufInserter(client, target, tmp_path / "tmp"),
        replace(CONFIG, batch=BatchConfig(max_rows=1000, flush_interval_s=0.2)),
        tmp_path / "state",
        on_set_aside=lambda record, reason: set_aside.append((record.id, reason)),
    )
    good = [wal.append(Signal.TRACES, spans(f"g{i}")) for i in range(3)]
    # Bytes no OTLP decoder accepts (a wire-type-7 tag), as a record could hold after a bug.
    bad = wal.append(Signal.TRACES, b"\x0f\xff\xff\xff\xff")
    good += [wal.append(Signal.TRACES, spans(f"g{i}")) for i in range(3, 6)]
    sink.start()
    try:
        wait_until(lambda: lag(wal) == 0)
    finally:
        sink.stop()
    assert [rid for rid, _ in set_aside] == [bad]
    assert stored(db) == {f"g{i}": 10 for i in range(6)}
    assert bad not in good


def test_crash_between_insert_and_ack_replays_exactly_once(
    db: tuple[Client, Target], tmp_path: Path
) -> None:
    """The first sink inserts a batch and 'dies' before acknowledging it; the second one finds
    the saved plan, rebuilds the same INSERTs, and ClickHouse drops them as duplicates."""
    client, target = db
    wal_dir, state = tmp_path / "wal", tmp_path / "state"
    log = Wal.open(WalConfig(sync="never"), wal_dir, cursors=[CURSOR])
    for i in range(4):
        log.append(Signal.TRACES, spans(f"r{i}"))
    storage = FlakyStorage(ProtobufInserter(client, target, tmp_path / "tmp"))

    def die() -> None:
        storage.down = True  # every later insert fails: the ack is never reached
        raise RetryableError("killed after the INSERT, before the ack")

    storage.after_insert = die
    first = ClickHouseSink(log, storage, CONFIG, state)
    first.start()
    wait_until(lambda: storage.failures >= 1)
    first.stop()
    assert stored(db) == {f"r{i}": 10 for i in range(4)}
    plan = PlanFile(state / "clickhouse.plan.json").load()
    assert plan == BatchPlan(1, 4)
    log.close()

    # After a restart, more records arrive behind the planned range.
    log = Wal.open(WalConfig(sync="never"), wal_dir, cursors=[CURSOR])
    log.append(Signal.TRACES, spans("r4"))
    second = ClickHouseSink(log, ProtobufInserter(client, target, tmp_path / "tmp"), CONFIG, state)
    second.start()
    try:
        wait_until(lambda: lag(log) == 0)
    finally:
        second.stop()
        log.close()
    assert stored(db) == {f"r{i}": 10 for i in range(5)}


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + length_delimited([payload])


def _span_only_the_full_decode_refuses(batch: str) -> bytes:
    """A request whose span carries a malformed event (field 11): the OTel table's decode reads
    events and refuses it; the ML tables' slim decode skips events and accepts it."""
    req = ExportTraceServiceRequest()
    span = (
        req.resource_spans.add()
        .scope_spans.add()
        .spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer")
    )
    span.start_time_unix_nano = time.time_ns()
    span.end_time_unix_nano = span.start_time_unix_nano + 1000
    span.attributes.add(key="ml.model.name").value.string_value = "half-bad"
    span.attributes.add(key="ml.inference.id").value.string_value = batch
    raw_span = span.SerializeToString() + _field(11, b"\x0f\xff\xff")
    resource = req.resource_spans[0].resource
    resource.attributes.add(key="batch").value.string_value = batch
    scope_spans = _field(2, raw_span)
    resource_spans = _field(1, resource.SerializeToString()) + _field(2, scope_spans)
    return _field(1, resource_spans)


def test_a_table_refusing_does_not_duplicate_the_tables_that_accepted(
    db: tuple[Client, Target], wal: Wal, tmp_path: Path
) -> None:
    client, target = db
    set_aside: list[int] = []
    sink = ClickHouseSink(
        wal,
        ProtobufInserter(client, target, tmp_path / "tmp", extra_clients=[connect(target)]),
        replace(CONFIG, batch=BatchConfig(max_rows=1000, flush_interval_s=0.2)),
        tmp_path / "state",
        on_set_aside=lambda record, reason: set_aside.append(record.id),
    )
    wal.append(Signal.TRACES, spans("ok-1"))
    bad = wal.append(Signal.TRACES, _span_only_the_full_decode_refuses("half"))
    wal.append(Signal.TRACES, spans("ok-2"))
    sink.start()
    try:
        wait_until(lambda: lag(wal) == 0)
    finally:
        sink.stop()
    assert set_aside == [bad]
    assert stored(db) == {"ok-1": 10, "ok-2": 10}
    inferences = client.query(
        f"SELECT InferenceId, count() FROM {target.database}.ml_inferences GROUP BY 1"
    ).result_rows
    # One decode feeds every trace table, so a refused record is refused by all of them: the
    # ok records (spans without a model) land once each in otel_traces, above.
    assert inferences == []
