"""WAL → forwarder → the in-process OTLP sink: everything arrives, re-packed, transformed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message

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


def test_every_span_arrives_once_and_small_requests_are_combined(
    harness: Harness, sink: OtlpSink
) -> None:
    dest = harness.dest(sink.grpc_endpoint, compression="gzip", headers={"X-Tenant": "acme"})
    wal = harness.open(dest)
    sent = []
    for i in range(60):
        req = otlp_requests.traces([[5, 5]], tag=f"r{i}")
        sent += [s.span_id for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        wal.append(int(Signal.TRACES), req.SerializeToString())
    wal.append(int(Signal.METRICS), otlp_requests.metrics([2, 3]).SerializeToString())
    wal.append(int(Signal.LOGS), otlp_requests.logs(4).SerializeToString())
    harness.start(dest)
    assert sink.wait_items(600) == 600
    assert wait_until(lambda: harness.lag(dest) == 0)
    assert sink.span_ids() == {i: 1 for i in sent}
    assert sink.items(Signal.METRICS) == 5 and sink.items(Signal.LOGS) == 4
    # 60 records were already waiting: they go out in a few combined requests, not 60
    trace_requests = [r for r in sink.requests() if r.signal is Signal.TRACES]
    assert len(trace_requests) < 10
    assert metric("sent_items", exporter=dest.name, signal="traces") == 600
    assert metric("sent_items", exporter=dest.name, signal="metrics") == 5
    assert metric("sent_items", exporter=dest.name, signal="logs") == 4
    assert all(h.get("x-tenant") == "acme" for h in sink.headers)  # gRPC metadata: lower case


def test_requests_are_repacked_under_max_batch_items(harness: Harness, sink: OtlpSink) -> None:
    dest = harness.dest(sink.grpc_endpoint, max_batch_items=1000)
    wal = harness.open(dest)
    sizes = [2500, 300, 700, 999, 1, 4000]
    for n in sizes:
        body = otlp_requests.traces([[n // 2, n - n // 2]]).SerializeToString()
        wal.append(int(Signal.TRACES), body)
    harness.start(dest)
    assert sink.wait_items(sum(sizes)) == sum(sizes)
    got = [r.items for r in sink.requests()]
    assert max(got) <= 1000
    assert sum(got) == sum(sizes) and len(sink.span_ids()) == sum(sizes)


def test_only_the_configured_signals_are_sent(harness: Harness, sink: OtlpSink) -> None:
    dest = harness.dest(sink.grpc_endpoint, signals=("metrics",))
    wal = harness.open(dest)
    wal.append(int(Signal.TRACES), otlp_requests.traces([[3]]).SerializeToString())
    wal.append(int(Signal.METRICS), otlp_requests.metrics([4]).SerializeToString())
    harness.start(dest)
    assert wait_until(lambda: harness.lag(dest) == 0)
    assert sink.items(Signal.METRICS) == 4 and sink.items(Signal.TRACES) == 0


def test_transform_hook_edits_each_request_before_encoding(
    harness: Harness, sink: OtlpSink
) -> None:
    seen: list[Signal] = []

    def enrich(signal: Signal, request: Message) -> None:
        seen.append(signal)
        for rs in request.resource_spans:  # type: ignore[attr-defined]
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.attributes.add(key="driftline.enriched").value.bool_value = True

    sink.keep_requests = True
    dest = harness.dest(sink.grpc_endpoint, signals=("traces",))
    wal = harness.open(dest)
    for _ in range(3):
        wal.append(int(Signal.TRACES), otlp_requests.traces([[4]]).SerializeToString())
    harness.start(dest, transform=enrich)
    assert sink.wait_items(12) == 12
    spans = [s for r in sink.requests() for rs in r.request.resource_spans  # type: ignore[union-attr]
             for ss in rs.scope_spans for s in ss.spans]  # fmt: skip
    assert len(spans) == 12
    assert all(any(a.key == "driftline.enriched" for a in s.attributes) for s in spans)
    assert seen == [Signal.TRACES] * 3


def test_a_failing_transform_drops_and_counts_its_request(harness: Harness, sink: OtlpSink) -> None:
    def broken(signal: Signal, request: Message) -> None:
        if len(request.resource_spans[0].scope_spans[0].spans) == 7:  # type: ignore[attr-defined]
            raise RuntimeError("enrichment bug")

    dest = harness.dest(sink.grpc_endpoint)
    wal = harness.open(dest)
    for n in (3, 7, 5):
        wal.append(int(Signal.TRACES), otlp_requests.traces([[n]]).SerializeToString())
    harness.start(dest, transform=broken)
    assert wait_until(lambda: harness.lag(dest) == 0)
    assert sink.items() == 8
    assert metric("dropped_items", exporter=dest.name, signal="traces", reason="transform") == 7


def test_otlp_http_protobuf_with_gzip_and_headers(harness: Harness, sink: OtlpSink) -> None:
    dest = harness.dest(
        sink.http_endpoint, protocol="http", compression="gzip", headers={"x-tenant": "acme"}
    )
    wal = harness.open(dest)
    for _ in range(20):
        wal.append(int(Signal.TRACES), otlp_requests.traces([[50]]).SerializeToString())
    wal.append(int(Signal.LOGS), otlp_requests.logs(3).SerializeToString())
    harness.start(dest)
    assert sink.wait_items(1000) == 1000
    assert sink.wait_items(3, Signal.LOGS) == 3
    assert all(r.transport == "http" for r in sink.requests())
    assert all(h.get("x-tenant") == "acme" for h in sink.headers)
    assert all(h.get("Content-Encoding") == "gzip" for h in sink.headers)
    assert len(sink.span_ids()) == 1000


def test_requests_are_split_under_max_batch_bytes(harness: Harness, sink: OtlpSink) -> None:
    sink.keep_requests = True
    dest = harness.dest(sink.grpc_endpoint, max_batch_bytes=16 << 10)
    wal = harness.open(dest)
    bodies = [otlp_requests.traces([[400], [50, 50]]).SerializeToString() for _ in range(3)]
    assert all(len(b) > 16 << 10 for b in bodies)
    for body in bodies:
        wal.append(int(Signal.TRACES), body)
    harness.start(dest)
    assert sink.wait_items(1500) == 1500
    sizes = [r.request.ByteSize() for r in sink.requests()]  # type: ignore[union-attr]
    assert max(sizes) <= 16 << 10 and len(sizes) > 3
    assert len(sink.span_ids()) == 1500


def test_a_reader_failure_rereads_from_the_checkpoint(
    harness: Harness, sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline.export.otlp import forwarder as forwarder_module

    calls = {"n": 0}
    real = forwarder_module.count_wire_items

    def flaky(signal: Signal, body: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug while packing")
        return real(signal, body)

    monkeypatch.setattr(forwarder_module, "count_wire_items", flaky)
    dest = harness.dest(sink.grpc_endpoint)
    wal = harness.open(dest)
    for _ in range(5):
        wal.append(int(Signal.TRACES), otlp_requests.traces([[10]]).SerializeToString())
    harness.start(dest)
    assert wait_until(lambda: harness.lag(dest) == 0)
    assert len(sink.span_ids()) == 50 and calls["n"] > 5
