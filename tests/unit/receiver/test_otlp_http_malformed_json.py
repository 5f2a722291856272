"""Malformed OTLP/JSON through the real HTTP endpoint: always 400 INVALID_ARGUMENT, never 503.

A 503 tells an OTel client to retry, forever, a body that can never be accepted (issue #16.6:
a lone surrogate made protobuf's json_format raise SystemError, answered 503). Every shape here
must come back 400 with a google.rpc.Status body, and nothing may reach the log.
"""

from __future__ import annotations

import gzip
import json

import pytest
from receiver_harness import Receivers
from test_otlp_http import JSON, post

LONE = "\\ud800"  # the JSON escape of a lone high surrogate
LONE_LOW = "\\udfff"


def _span(fields: str) -> str:
    return '{"resourceSpans":[{"scopeSpans":[{"spans":[{' + fields + "}]}]}]}"


def _attr(value: str) -> str:
    return '{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":' + value + "}]}}]}"


MALFORMED: dict[str, tuple[str, str]] = {
    # (path, body)
    "empty body": ("/v1/traces", ""),
    "whitespace only": ("/v1/traces", "   \n"),
    "truncated object": ("/v1/traces", '{"resourceSpans": ['),
    "trailing garbage": ("/v1/traces", '{"resourceSpans": []} x'),
    "two documents": ("/v1/traces", "{}{}"),
    "single quotes": ("/v1/traces", "{'resourceSpans': []}"),
    "trailing comma": ("/v1/traces", '{"resourceSpans": [],}'),
    "top-level null": ("/v1/traces", "null"),
    "top-level array": ("/v1/traces", "[]"),
    "top-level string": ("/v1/traces", '"resourceSpans"'),
    "top-level number": ("/v1/traces", "1"),
    "lone surrogate in an unknown key": ("/v1/traces", '{"@": 1}'.replace("@", LONE)),
    "lone surrogate in a nested unknown key": (
        "/v1/traces",
        '{"resourceSpans":[{"@":1}]}'.replace("@", LONE),
    ),
    "lone surrogate in a known key's spelling": (
        "/v1/logs",
        '{"resourceLogs@":[]}'.replace("@", LONE),
    ),
    "lone surrogate in an enum name": ("/v1/traces", _span('"kind":"@"'.replace("@", LONE))),
    "lone surrogate in a span name": ("/v1/traces", _span('"name":"@"'.replace("@", LONE))),
    "lone low surrogate in a span name": (
        "/v1/traces",
        _span('"name":"a@b"'.replace("@", LONE_LOW)),
    ),
    "lone surrogate in an attribute key": (
        "/v1/traces",
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"@"}]}}]}'.replace("@", LONE),
    ),
    "lone surrogate in a string value": (
        "/v1/traces",
        _attr('{"stringValue":"@"}'.replace("@", LONE)),
    ),
    "lone surrogate in a log body": (
        "/v1/logs",
        '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"@"}}]}]}]}'.replace(
            "@", LONE
        ),
    ),
    "lone surrogate in a metric name": (
        "/v1/metrics",
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"@"}]}]}]}'.replace("@", LONE),
    ),
    "lone surrogate in an int64 string": (
        "/v1/traces",
        _span('"startTimeUnixNano":"@"'.replace("@", LONE)),
    ),
    "lone surrogate in a trace id": ("/v1/traces", _span('"traceId":"@"'.replace("@", LONE))),
    "surrogate pair reversed": ("/v1/traces", _span('"name":"\\udc00\\ud800"')),
    "bad escape": ("/v1/traces", _span('"name":"\\x41"')),
    "truncated unicode escape": ("/v1/traces", _span('"name":"\\u12"')),
    "control character in a string": ("/v1/traces", _span('"name":"a\x01b"')),
    "NaN for an int64": ("/v1/traces", _span('"startTimeUnixNano":NaN')),
    "Infinity for an int64": ("/v1/traces", _span('"startTimeUnixNano":Infinity')),
    "float for an int64": ("/v1/traces", _span('"startTimeUnixNano":1.5')),
    "negative for a fixed64": ("/v1/traces", _span('"startTimeUnixNano":"-1"')),
    "past u64": ("/v1/traces", _span('"startTimeUnixNano":"18446744073709551616"')),
    "5000-digit number": ("/v1/traces", _span('"startTimeUnixNano":' + "9" * 5000)),
    "5000-digit number string": ("/v1/traces", _span('"startTimeUnixNano":"' + "9" * 5000 + '"')),
    "1e999": ("/v1/traces", _attr('{"doubleValue":1e999,"intValue":1e999}')),
    "not a number for intValue": ("/v1/traces", _attr('{"intValue":"abc"}')),
    "object for a string": ("/v1/traces", _span('"name":{"a":1}')),
    "array for a message": ("/v1/traces", '{"resourceSpans":[{"resource":[1]}]}'),
    "number for a repeated field": ("/v1/traces", '{"resourceSpans":5}'),
    "string for a repeated field": ("/v1/traces", '{"resourceSpans":"abc"}'),
    "enum number past int32": ("/v1/traces", _span('"kind":99999999999')),
    "boolean for a string": ("/v1/traces", _span('"name":true')),
    "odd-length hex id": ("/v1/traces", _span('"traceId":"abc"')),
    "non-hex id": ("/v1/traces", _span('"spanId":"zzzzzzzzzzzzzzzz"')),
    "number for an id": ("/v1/traces", _span('"traceId":12')),
    "nested too deeply (arrays)": ("/v1/traces", "[" * 100_000 + "]" * 100_000),
    "nested too deeply (AnyValue)": (
        "/v1/traces",
        _attr('{"kvlistValue":{"values":[{"key":"k","value":' * 200 + "{}" + "}]}}" * 200),
    ),
    "null in a repeated field": ("/v1/traces", '{"resourceSpans":[null]}'),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_malformed_json_is_400_never_503(receivers: Receivers, shape: str) -> None:
    path, body = MALFORMED[shape]
    reply = post(receivers.http_url(path), body.encode("utf-8", "surrogatepass"), JSON)
    assert reply.status == 400, (reply.status, reply.body[:300])
    assert reply.headers["content-type"] == JSON
    assert reply.status_message().code == 3  # INVALID_ARGUMENT
    assert receivers.log.records == []


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",  # not UTF-8
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\xed\xa0\x80"}]}]}]}',  # CESU
        b'{"a":"\xc3"}',  # a truncated UTF-8 sequence
    ],
)
def test_undecodable_bytes_are_400(receivers: Receivers, raw: bytes) -> None:
    reply = post(receivers.http_url("/v1/traces"), raw, JSON)
    assert reply.status == 400, reply.body[:300]
    assert receivers.log.records == []


def test_lone_surrogate_inside_gzip_is_400(receivers: Receivers) -> None:
    body = gzip.compress(('{"@": 1}'.replace("@", LONE)).encode())
    reply = post(receivers.http_url("/v1/traces"), body, JSON, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400
    assert receivers.log.records == []


def test_a_valid_surrogate_pair_is_accepted(receivers: Receivers) -> None:
    """The check for lone surrogates must not refuse proper non-BMP text (an emoji)."""
    ids = '"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
    body = _span(ids + '"name":"\\ud83d\\ude00 predict"')
    reply = post(receivers.http_url("/v1/traces"), body.encode(), JSON)
    assert reply.status == 200, reply.body
    assert len(receivers.log.records) == 1
    assert json.loads(reply.body) == {}
