"""OTLP/JSON decoding (hex ids, string int64s, integer enums, unknown fields) and encoding."""

from __future__ import annotations

import json

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from driftline.errors import InvalidInputError
from driftline.receiver import otlp_json
from driftline.signals import Signal

TRACE_HEX = "5B8EFFF798038103D269B633813FC60C"
SPAN_HEX = "EEE19B7EC3C1B174"
PARENT_HEX = "eee19b7ec3c1b173"

TRACES_JSON = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "model-api"}}]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "my.library", "version": "1.0.0"},
                    "spans": [
                        {
                            "traceId": TRACE_HEX,
                            "spanId": SPAN_HEX,
                            "parentSpanId": PARENT_HEX,
                            "name": "predict",
                            "kind": 2,
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": 1544712661000000000,
                            "attributes": [
                                {"key": "ml.model.name", "value": {"stringValue": "churn"}},
                                {"key": "batch", "value": {"intValue": "9007199254740993"}},
                            ],
                            "links": [{"traceId": TRACE_HEX.lower(), "spanId": SPAN_HEX}],
                            "status": {"code": 2, "message": "boom"},
                            "someFutureField": {"nested": [1, 2, 3]},
                        }
                    ],
                }
            ],
            "unknownResourceLevelField": True,
        }
    ]
}


def test_traces_json_becomes_the_protobuf_request() -> None:
    request = otlp_json.parse(Signal.TRACES, json.dumps(TRACES_JSON).encode())
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(TRACE_HEX)
    assert span.span_id == bytes.fromhex(SPAN_HEX)
    assert span.parent_span_id == bytes.fromhex(PARENT_HEX)
    assert span.links[0].trace_id == bytes.fromhex(TRACE_HEX)
    assert span.links[0].span_id == bytes.fromhex(SPAN_HEX)
    assert span.kind == 2
    assert span.status.code == 2
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    assert span.attributes[1].value.int_value == 9007199254740993
    assert request.resource_spans[0].resource.attributes[0].value.string_value == "model-api"


def test_logs_json_ids_are_hex() -> None:
    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000000",
                                "severityNumber": 9,
                                "traceId": TRACE_HEX,
                                "spanId": SPAN_HEX,
                                "body": {"stringValue": "label arrived"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    record = otlp_json.parse(Signal.LOGS, json.dumps(body)).resource_logs[0].scope_logs[0]
    log = record.log_records[0]
    assert (log.trace_id.hex(), log.span_id.hex()) == (TRACE_HEX.lower(), SPAN_HEX.lower())
    assert log.severity_number == 9
    assert log.time_unix_nano == 1700000000000000000


def test_metrics_json_exemplar_ids_are_hex() -> None:
    point = {
        "asInt": "42",
        "timeUnixNano": "1700000000000000000",
        "exemplars": [{"asDouble": 1.5, "traceId": TRACE_HEX, "spanId": SPAN_HEX}],
    }
    body = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "requests",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [point],
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }
    request = otlp_json.parse(Signal.METRICS, json.dumps(body))
    metric = request.resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.sum.aggregation_temporality == 2
    assert metric.sum.data_points[0].as_int == 42
    assert metric.sum.data_points[0].exemplars[0].trace_id == bytes.fromhex(TRACE_HEX)


def test_snake_case_id_keys_are_read_as_hex_too() -> None:
    body = {"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": TRACE_HEX}]}]}]}
    span = otlp_json.parse(Signal.TRACES, json.dumps(body)).resource_spans[0].scope_spans[0]
    assert span.spans[0].trace_id == bytes.fromhex(TRACE_HEX)


def test_empty_object_is_an_empty_request() -> None:
    assert otlp_json.parse(Signal.TRACES, b"{}").ByteSize() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]}', "invalid OTLP/JSON"),
        (b'{"resourceSpans": "nope"}', "invalid OTLP/JSON"),
    ],
)
def test_malformed_json_is_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        otlp_json.parse(Signal.TRACES, body)


@pytest.mark.parametrize("bad_id", ["xyz", "abc", "5b8e fff7", "00" * 16 + "g"])
def test_bad_hex_id_is_invalid_input(bad_id: str) -> None:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": bad_id}]}]}]}
    with pytest.raises(InvalidInputError, match=r"span\.traceId must be a hex string"):
        otlp_json.parse(Signal.TRACES, json.dumps(body))


def test_to_json_uses_camel_case_and_string_int64() -> None:
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 2
    response.partial_success.error_message = "rejected 2 of 10 spans"
    assert json.loads(otlp_json.to_json(response)) == {
        "partialSuccess": {"rejectedSpans": "2", "errorMessage": "rejected 2 of 10 spans"}
    }
    assert otlp_json.to_json(ExportTraceServiceResponse()) == "{}"
    status = json.loads(otlp_json.to_json(status_pb2.Status(code=3, message="bad")))
    assert status == {"code": 3, "message": "bad"}
