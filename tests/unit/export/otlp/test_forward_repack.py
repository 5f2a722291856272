"""Combining by concatenation and splitting by items/bytes keep every item, header and order."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.export.otlp.encode.count import count_wire_items
from driftline.export.otlp.encode.repack import Packer, Piece, split_items, split_to_fit
from driftline.export.otlp.encode.shapes import count_items
from driftline.signals import Signal
from tests.unit.export.otlp import otlp_requests


def _spans(req: ExportTraceServiceRequest) -> list[tuple[str, str, bytes]]:
    """(service.name, scope name, span id) of every span, in order."""
    return [
        (rs.resource.attributes[0].value.string_value, ss.scope.name, span.span_id)
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def test_concatenated_requests_are_the_merged_request() -> None:
    parts = [otlp_requests.traces([[3, 1]], "a"), otlp_requests.traces([[2]], "b")]
    merged = ExportTraceServiceRequest()
    for part in parts:
        merged.MergeFrom(part)
    joined = b"".join(p.SerializeToString() for p in parts)
    assert joined == merged.SerializeToString()
    assert _spans(ExportTraceServiceRequest.FromString(joined)) == _spans(merged)


@given(
    shape=st.lists(st.lists(st.integers(0, 12), min_size=1, max_size=3), min_size=1, max_size=4),
    cap=st.integers(1, 15),
)
def test_split_keeps_order_headers_and_cap(shape: list[list[int]], cap: int) -> None:
    req = otlp_requests.traces(shape)
    pieces = split_items(Signal.TRACES, req, cap)
    got = [s for p in pieces for s in _spans(p)]  # type: ignore[arg-type]
    assert got == _spans(req)
    assert all(count_items(Signal.TRACES, p) <= cap for p in pieces)
    # only the last piece may be short: pieces are filled before a new one starts
    assert all(count_items(Signal.TRACES, p) == cap for p in pieces[:-1])
    for p in pieces:
        for rs in p.resource_spans:  # type: ignore[attr-defined]
            i = int(rs.resource.attributes[0].value.string_value.split("-")[1])
            assert rs.schema_url == f"https://schema/{i}"
            assert all(ss.spans and ss.scope.version == "1.0" for ss in rs.scope_spans)


def test_metric_with_too_many_points_is_split_between_its_points() -> None:
    req = otlp_requests.metrics([3, 10, 2])  # 15 points; the sum metric alone exceeds cap 4
    pieces = split_items(Signal.METRICS, req, 4)
    assert [count_items(Signal.METRICS, p) for p in pieces] == [4, 4, 4, 3]
    seen: list[tuple[str, float]] = []
    for p in pieces:
        for m in p.resource_metrics[0].scope_metrics[0].metrics:  # type: ignore[attr-defined]
            kind = m.WhichOneof("data")
            if kind == "sum":
                assert m.sum.is_monotonic and m.sum.aggregation_temporality == 2
            assert m.unit == "ms"
            seen += [(m.name, dp.as_double) for dp in getattr(m, kind).data_points]
    expected = [
        (m.name, dp.as_double)
        for m in req.resource_metrics[0].scope_metrics[0].metrics
        for dp in getattr(m, m.WhichOneof("data")).data_points
    ]
    assert seen == expected


def test_split_to_fit_honours_bytes() -> None:
    req = otlp_requests.traces([[200]])
    size = req.ByteSize()
    pieces = split_to_fit(Signal.TRACES, req, 200, 0, size // 5)
    assert len(pieces) >= 5
    assert all(len(p.body) <= size // 5 for p in pieces)
    assert sum(p.items for p in pieces) == 200
    joined = ExportTraceServiceRequest.FromString(b"".join(p.body for p in pieces))
    assert [s[2] for s in _spans(joined)] == [s[2] for s in _spans(req)]


def test_logs_split() -> None:
    pieces = split_to_fit(Signal.LOGS, otlp_requests.logs(25), 25, 10, 1 << 20)
    assert [p.items for p in pieces] == [10, 10, 5]


def test_packer_combines_up_to_both_limits() -> None:
    bodies = [otlp_requests.traces([[10]]).SerializeToString() for _ in range(7)]
    packer = Packer(Signal.TRACES, 30, 1 << 20)
    packer.add_all(Piece(Signal.TRACES, b, 10) for b in bodies)
    done = packer.finish()
    assert [p.items for p in done] == [30, 30, 10]
    decoded = [ExportTraceServiceRequest.FromString(p.body) for p in done]
    assert [count_items(Signal.TRACES, r) for r in decoded] == [30, 30, 10]
    by_bytes = Packer(Signal.TRACES, 0, len(bodies[0]) * 2)
    by_bytes.add_all(Piece(Signal.TRACES, b, 10) for b in bodies)
    assert [p.items for p in by_bytes.finish()] == [20, 20, 20, 10]


@given(
    shape=st.lists(st.lists(st.integers(0, 9), min_size=0, max_size=3), min_size=0, max_size=3),
    points=st.lists(st.integers(0, 6), max_size=5),
    logs=st.integers(0, 30),
)
def test_wire_counts_equal_decoded_counts(
    shape: list[list[int]], points: list[int], logs: int
) -> None:
    cases = [
        (Signal.TRACES, otlp_requests.traces(shape)),
        (Signal.METRICS, otlp_requests.metrics(points)),
        (Signal.LOGS, otlp_requests.logs(logs)),
    ]
    for signal, request in cases:
        body = request.SerializeToString()
        assert count_wire_items(signal, body) == count_items(signal, request)
    assert count_wire_items(Signal.TRACES, b"") == 0


def test_wire_count_refuses_garbage() -> None:
    with pytest.raises(DecodeError):
        count_wire_items(Signal.TRACES, b"\x0a\xff\xff\xff")
