"""A dead destination: ingest keeps going, the forwarder sheds its oldest records past
max_lag_mib (counted), nothing unacknowledged is lost across a restart."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.errors import WalFullError
from driftline.signals import Signal
from tests.integration.forwarding import Harness, metric, running_harness, running_sink, wait_until
from tests.otlp_sink import OtlpSink
from tests.unit.export.otlp import otlp_requests


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    yield from running_sink()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from running_harness(tmp_path)


def _body(spans: int = 500) -> bytes:
    return otlp_requests.traces([[spans]]).SerializeToString()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_destination_sheds_its_oldest_records_instead_of_stopping_ingest(
    harness: Harness, sink: OtlpSink
) -> None:
    sink.stop()  # the destination is down from the start
    dest = harness.dest(sink.grpc_endpoint, max_lag_mib=3, timeout_s=0.5, max_batch_bytes=256 << 10)
    wal = harness.open(dest)  # 16 MiB cap, 1 MiB segments
    harness.start(dest)
    body = _body()
    appended = 0
    deadline = time.monotonic() + 60
    while appended * len(body) < 40 << 20:  # 2.5 times the WAL cap
        assert time.monotonic() < deadline
        try:
            wal.append(int(Signal.TRACES), body)
        except WalFullError:
            pytest.fail(f"ingest stopped after {appended} records: the WAL filled up")
        appended += 1
        if appended % 20 == 0:
            time.sleep(0.05)
    dropped = metric("dropped_items", exporter=dest.name, signal="traces", reason="lag")
    assert dropped > 0 and wal.stats().total_bytes <= 16 << 20
    sink.start()  # the destination returns: what was not shed arrives
    assert wait_until(lambda: harness.lag(dest) == 0, 60)
    dropped = metric("dropped_items", exporter=dest.name, signal="traces", reason="lag")
    assert sink.items() + dropped == appended * 500  # every span either delivered or counted
    assert sink.items() > 0


def test_without_a_lag_cap_a_dead_destination_fills_the_wal(harness: Harness) -> None:
    dest = harness.dest(f"127.0.0.1:{_free_port()}", max_lag_mib=0, timeout_s=0.5)
    wal = harness.open(dest)
    harness.start(dest)
    body = _body()
    with pytest.raises(WalFullError):
        for _ in range(100_000):
            wal.append(int(Signal.TRACES), body)
    assert wal.stats().total_bytes > 14 << 20


def test_unacknowledged_batches_are_resent_after_a_restart_and_counted(
    harness: Harness, sink: OtlpSink
) -> None:
    sink.stop()
    dest = harness.dest(sink.grpc_endpoint, timeout_s=0.5)
    wal = harness.open(dest)
    for _ in range(10):
        wal.append(int(Signal.TRACES), _body(100))
    (forwarder,) = harness.start(dest)
    assert wait_until(lambda: metric("retries", exporter=dest.name, signal="traces",
                                     code="unavailable") > 0)  # fmt: skip
    forwarder.stop(2.0)  # mid-retry: nothing was acknowledged
    harness.forwarders.clear()
    assert harness.lag(dest) == 10
    wal.close()
    harness.open(dest)
    sink.start()
    harness.start(dest)
    assert sink.wait_items(1000) == 1000
    assert wait_until(lambda: harness.lag(dest) == 0)
    assert set(sink.span_ids().values()) == {1}
    # the batch that was in flight before the restart is counted as (possibly) resent
    resent = metric("resent_items", exporter=dest.name, signal="traces", reason="restart")
    assert 100 <= resent <= 1000


def test_receiver_backpressure_ignores_forward_lag(tmp_path: Path) -> None:
    from driftline.components.backpressure import BackpressureLog
    from driftline.config.model import WalConfig
    from driftline.wal import Wal

    wal = Wal.open(WalConfig(sync="never"), tmp_path / "wal", ["clickhouse", "forward:slow"])
    try:
        durable = BackpressureLog(wal, max_lag_bytes=64 << 10, retry_after_s=1.0)
        body = _body(100)
        last = 0
        for _ in range(20):  # far more than 64 KiB, none of it forwarded
            last = durable.submit(int(Signal.TRACES), body).result()
            wal.ack("clickhouse", last, last)
            time.sleep(0.11)  # past the lag check interval
        assert wal.stats().cursors["forward:slow"].lag_bytes > 64 << 10
        with pytest.raises(WalFullError):  # while a lagging ClickHouse sink does refuse
            for _ in range(20):
                durable.submit(int(Signal.TRACES), body).result()  # not acked by the sink
                time.sleep(0.11)
    finally:
        wal.close()
