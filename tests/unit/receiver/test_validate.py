"""validate.inspect: item counts, the invalid-item rules, and the untouched hot path."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from receiver_harness import logs_request, metrics_request, span_names, traces_request

from driftline.errors import InvalidInputError
from driftline.receiver.validate import inspect, inspect_message
from driftline.signals import Signal


def test_valid_request_is_stored_as_received() -> None:
    data = traces_request(50).SerializeToString()
    result = inspect(Signal.TRACES, data, 128)
    assert result.payload is data
    assert (result.accepted, result.rejected, result.error_message) == (50, 0, "")


def test_every_metric_type_counts_its_data_points() -> None:
    data = metrics_request().SerializeToString()
    result = inspect(Signal.METRICS, data, 128)
    assert (result.accepted, result.rejected) == (9, 0)
    assert result.payload is data


def test_empty_request_is_accepted_with_nothing_in_it() -> None:
    for signal in Signal:
        result = inspect(signal, b"", 128)
        assert (result.payload, result.accepted, result.rejected) == (b"", 0, 0)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"trace_id": b""}, "trace_id"),
        ({"trace_id": b"\x01" * 15}, "trace_id"),
        ({"trace_id": bytes(16)}, "trace_id"),
        ({"span_id": b"\x01" * 9}, "span_id"),
        ({"span_id": bytes(8)}, "span_id"),
        ({"parent_span_id": b"\x01" * 4}, "parent_span_id"),
    ],
)
def test_span_with_invalid_id_is_rejected_and_the_rest_kept(fields: dict, problem: str) -> None:
    data = traces_request(10, overrides={3: fields, 7: fields}).SerializeToString()
    result = inspect(Signal.TRACES, data, 128)
    assert (result.accepted, result.rejected) == (8, 2)
    assert f"2 with an invalid {problem}" in result.error_message
    assert result.error_message.startswith("rejected 2 of 10 spans")
    kept = [f"span-{i}" for i in range(10) if i not in (3, 7)]
    assert span_names(result.payload) == kept


def test_span_with_a_valid_parent_is_accepted() -> None:
    data = traces_request(2, overrides={1: {"parent_span_id": b"\x01" * 8}}).SerializeToString()
    assert inspect(Signal.TRACES, data, 128).rejected == 0


def test_too_many_attributes_is_a_partial_success() -> None:
    request = traces_request(3)
    for a in range(200):
        request.resource_spans[0].scope_spans[0].spans[1].attributes.add(key=f"k{a}")
    result = inspect(Signal.TRACES, request.SerializeToString(), 128)
    assert (result.accepted, result.rejected) == (2, 1)
    assert "more than 128 attributes" in result.error_message
    assert span_names(result.payload) == ["span-0", "span-2"]


def test_containers_left_empty_are_dropped() -> None:
    data = traces_request(3, overrides={i: {"span_id": b""} for i in range(3)}).SerializeToString()
    result = inspect(Signal.TRACES, data, 128)
    assert (result.accepted, result.rejected) == (0, 3)
    assert not ExportTraceServiceRequest.FromString(result.payload).resource_spans


def test_log_ids_may_be_empty_but_not_of_a_wrong_length() -> None:
    request = logs_request(
        4,
        overrides={
            0: {"trace_id": b"", "span_id": b""},
            1: {"trace_id": b"\x01" * 8},
            2: {"span_id": b"\x01" * 16},
        },
    )
    result = inspect(Signal.LOGS, request.SerializeToString(), 128)
    assert (result.accepted, result.rejected) == (2, 2)
    assert "1 with an invalid trace_id" in result.error_message
    assert "1 with an invalid span_id" in result.error_message
    stored = ExportLogsServiceRequest.FromString(result.payload)
    bodies = [r.body.string_value for r in stored.resource_logs[0].scope_logs[0].log_records]
    assert bodies == ["log-0", "log-3"]


def test_log_record_with_too_many_attributes_is_rejected() -> None:
    request = logs_request(2)
    for a in range(5):
        request.resource_logs[0].scope_logs[0].log_records[0].attributes.add(key=f"k{a}")
    result = inspect(Signal.LOGS, request.SerializeToString(), 4)
    assert (result.accepted, result.rejected) == (1, 1)


def test_metric_without_a_name_rejects_all_its_points() -> None:
    request = metrics_request()
    request.resource_metrics[0].scope_metrics[0].metrics[1].name = ""  # the 3-point sum
    result = inspect(Signal.METRICS, request.SerializeToString(), 128)
    assert (result.accepted, result.rejected) == (6, 3)
    assert "3 in a metric with an empty name" in result.error_message
    stored = ExportMetricsServiceRequest.FromString(result.payload)
    names = [m.name for m in stored.resource_metrics[0].scope_metrics[0].metrics]
    assert names == ["gpu.utilization", "latency", "latency.exp", "latency.summary"]


def test_data_point_with_too_many_attributes_is_rejected_and_names_are_kept() -> None:
    request = metrics_request()
    metrics = request.resource_metrics[0].scope_metrics[0].metrics
    for a in range(3):
        metrics[1].sum.data_points[0].attributes.add(key=f"k{a}")
    metrics[0].name = ""  # both checks in one request: points are filtered before metrics
    result = inspect(Signal.METRICS, request.SerializeToString(), 2)
    assert (result.accepted, result.rejected) == (6, 3)
    stored = ExportMetricsServiceRequest.FromString(result.payload)
    stored_sum = stored.resource_metrics[0].scope_metrics[0].metrics[0]
    assert stored_sum.name == "requests"
    assert [p.as_int for p in stored_sum.sum.data_points] == [2, 3]


def test_garbage_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="not a valid protobuf ExportTraceServiceRequest"):
        inspect(Signal.TRACES, b"\xff\xff\xff\xff not protobuf", 128)


def test_invalid_utf8_in_a_string_field_is_invalid_input() -> None:
    data = traces_request(1).SerializeToString().replace(b"span-0", b"span-\xff")
    with pytest.raises(InvalidInputError, match="UTF-8"):
        inspect(Signal.TRACES, data, 128)


def test_inspect_message_serializes_a_decoded_request() -> None:
    request = traces_request(2)
    result = inspect_message(Signal.TRACES, request, 128)
    assert result.payload == request.SerializeToString()
    assert result.accepted == 2


_ID_LENGTHS = st.sampled_from([0, 4, 8, 15, 16, 17])


@given(st.lists(st.tuples(_ID_LENGTHS, _ID_LENGTHS, st.booleans()), max_size=30))
def test_exactly_the_valid_spans_are_kept_in_order(shapes: list[tuple[int, int, bool]]) -> None:
    overrides = {
        i: {
            "trace_id": b"\x01" * trace_len,
            "span_id": (b"\x00" if zero else b"\x02") * span_len,
        }
        for i, (trace_len, span_len, zero) in enumerate(shapes)
    }
    request = traces_request(len(shapes), overrides=overrides)
    valid = [
        f"span-{i}"
        for i, (trace_len, span_len, zero) in enumerate(shapes)
        if trace_len == 16 and span_len == 8 and not zero
    ]
    result = inspect(Signal.TRACES, request.SerializeToString(), 128)
    assert result.accepted == len(valid)
    assert result.rejected == len(shapes) - len(valid)
    assert span_names(result.payload) == valid
