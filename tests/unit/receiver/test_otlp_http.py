"""OTLP/HTTP receiver over loopback, with urllib as the client."""

from __future__ import annotations

import gzip
import json
import ssl
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from receiver_harness import Pki, Receivers, span_names, traces_request

from driftline.config.model import TLSConfig
from driftline.signals import Signal

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def status_message(self) -> status_pb2.Status:
        """The google.rpc.Status error body, decoded according to its Content-Type."""
        status = status_pb2.Status()
        if self.headers["content-type"].startswith(JSON):
            document = json.loads(self.body)
            status.code, status.message = document["code"], document["message"]
        else:
            status.ParseFromString(self.body)
        return status


def post(
    url: str,
    body: bytes,
    content_type: str | None = PROTOBUF,
    *,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    context: ssl.SSLContext | None = None,
) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            status, response_headers, data = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, data = error.code, error.headers, error.read()
    return Reply(status, {k.lower(): v for k, v in response_headers.items()}, data)


def test_protobuf_request_is_stored_as_sent(receivers: Receivers) -> None:
    data = traces_request(10).SerializeToString()
    reply = post(receivers.http_url("/v1/traces"), data)
    assert reply.status == 200
    assert reply.headers["content-type"] == PROTOBUF
    assert ExportTraceServiceResponse.FromString(reply.body) == ExportTraceServiceResponse()
    assert receivers.log.records == [(int(Signal.TRACES), data)]


def test_json_request_gets_a_json_response_and_is_stored_as_protobuf(
    receivers: Receivers,
) -> None:
    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000001",
                                "severityNumber": 9,
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "eee19b7ec3c1b174",
                                "body": {"stringValue": "hello"},
                                "notAnOtlpField": 1,
                            }
                        ]
                    }
                ]
            }
        ]
    }
    reply = post(
        receivers.http_url("/v1/logs"), json.dumps(body).encode(), "application/json; charset=utf-8"
    )
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, JSON, b"{}")
    (stored,) = receivers.log.payloads(Signal.LOGS)
    record = ExportLogsServiceRequest.FromString(stored).resource_logs[0].scope_logs[0]
    log = record.log_records[0]
    assert log.trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert log.span_id == bytes.fromhex("eee19b7ec3c1b174")
    assert (log.time_unix_nano, log.severity_number) == (1700000000000000001, 9)


def test_json_partial_success_is_json(receivers: Receivers) -> None:
    spans = [
        {"traceId": "00" * 16, "spanId": "01" * 8, "name": "zero-trace"},
        {"traceId": "ab" * 16, "spanId": "01" * 8, "name": "fine"},
    ]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    reply = post(receivers.http_url("/v1/traces"), json.dumps(body).encode(), JSON)
    assert reply.status == 200
    partial = json.loads(reply.body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "invalid trace_id" in partial["errorMessage"]
    assert span_names(receivers.log.payloads(Signal.TRACES)[0]) == ["fine"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_body_is_decoded(receivers: Receivers, encoding: str) -> None:
    data = traces_request(100).SerializeToString()
    compressed = gzip.compress(data) if encoding == "gzip" else zlib.compress(data)
    reply = post(
        receivers.http_url("/v1/traces"), compressed, headers={"Content-Encoding": encoding}
    )
    assert reply.status == 200
    assert receivers.log.payloads(Signal.TRACES) == [data]


def test_empty_request_succeeds(receivers: Receivers) -> None:
    assert post(receivers.http_url("/v1/metrics"), b"").status == 200
    assert post(receivers.http_url("/v1/metrics"), b"{}", JSON).body == b"{}"
    assert receivers.log.records == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/protobuf", None])
def test_unsupported_content_type_is_415(receivers: Receivers, content_type: str | None) -> None:
    reply = post(receivers.http_url("/v1/traces"), b"{}", content_type)
    assert reply.status == 415
    assert b"application/x-protobuf" in reply.body


def test_unsupported_content_encoding_is_415(receivers: Receivers) -> None:
    reply = post(receivers.http_url("/v1/traces"), b"x", headers={"Content-Encoding": "br"})
    assert reply.status == 415


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x0a\xff\xff\xff\xff garbage", PROTOBUF, "not a valid protobuf"),
        (b"{not json", JSON, "not valid JSON"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            JSON,
            "traceId must be a hex string",
        ),
    ],
)
def test_malformed_body_is_400_with_a_status_body(
    receivers: Receivers, body: bytes, content_type: str, message: str
) -> None:
    reply = post(receivers.http_url("/v1/traces"), body, content_type)
    assert reply.status == 400
    assert reply.headers["content-type"] == content_type
    status = reply.status_message()
    assert status.code == 3  # INVALID_ARGUMENT
    assert message in status.message
    assert receivers.log.records == []


def test_invalid_utf8_is_400(receivers: Receivers) -> None:
    data = traces_request(1).SerializeToString().replace(b"span-0", b"span-\xff")
    reply = post(receivers.http_url("/v1/traces"), data)
    assert reply.status == 400
    assert "UTF-8" in reply.status_message().message


def test_truncated_gzip_is_400(receivers: Receivers) -> None:
    compressed = gzip.compress(traces_request(50).SerializeToString())[:-20]
    reply = post(receivers.http_url("/v1/traces"), compressed, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400


def test_oversized_body_is_413(serve: Callable[..., Receivers]) -> None:
    receivers = serve(max_mib=1)
    reply = post(receivers.http_url("/v1/traces"), b"\x00" * (2 << 20))
    assert reply.status == 413
    assert reply.status_message().code == 8  # RESOURCE_EXHAUSTED
    assert receivers.log.records == []


def test_oversized_chunked_body_without_content_length_is_413(
    serve: Callable[..., Receivers],
) -> None:
    receivers = serve(max_mib=1)
    chunks = iter([b"\x00" * (256 << 10)] * 8)  # 2 MiB, sent with Transfer-Encoding: chunked
    request = urllib.request.Request(
        receivers.http_url("/v1/traces"),
        data=chunks,
        method="POST",
        headers={"Content-Type": PROTOBUF},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 413
    assert receivers.log.records == []


def test_gzip_bomb_is_413(serve: Callable[..., Receivers]) -> None:
    receivers = serve(max_mib=1)
    bomb = gzip.compress(b"\x00" * (64 << 20), compresslevel=1)
    assert len(bomb) < 1 << 20
    reply = post(receivers.http_url("/v1/traces"), bomb, headers={"Content-Encoding": "gzip"})
    assert reply.status == 413
    assert "decompressed request body exceeds" in reply.status_message().message
    assert receivers.log.records == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic s3cret"])
def test_missing_or_wrong_token_is_401(
    serve: Callable[..., Receivers], authorization: str | None
) -> None:
    receivers = serve(token="s3cret")
    headers = {"Authorization": authorization} if authorization else {}
    reply = post(
        receivers.http_url("/v1/traces"), traces_request(1).SerializeToString(), headers=headers
    )
    assert reply.status == 401
    assert reply.status_message().code == 16  # UNAUTHENTICATED
    assert receivers.log.records == []


def test_right_token_is_accepted(serve: Callable[..., Receivers]) -> None:
    receivers = serve(token="s3cret")
    reply = post(
        receivers.http_url("/v1/traces"),
        traces_request(1).SerializeToString(),
        headers={"Authorization": "Bearer s3cret"},
    )
    assert reply.status == 200
    assert len(receivers.log.records) == 1


def test_wal_full_is_503_with_retry_after(receivers: Receivers) -> None:
    receivers.log.full_delay_s = 2.5
    reply = post(receivers.http_url("/v1/traces"), traces_request(1).SerializeToString())
    assert reply.status == 503
    assert reply.headers["retry-after"] == "3"
    status = reply.status_message()
    assert status.code == 14  # UNAVAILABLE
    retry_info = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry_info) for detail in status.details)
    assert retry_info.retry_delay.seconds == 2


def test_unexpected_log_failure_is_503(receivers: Receivers) -> None:
    receivers.log.fail_with = RuntimeError("bug")
    reply = post(receivers.http_url("/v1/traces"), b"{}", JSON)
    assert reply.status == 200  # nothing to store: the log is not asked
    reply = post(receivers.http_url("/v1/traces"), traces_request(1).SerializeToString())
    assert reply.status == 503


def test_healthz_and_routing(receivers: Receivers) -> None:
    with urllib.request.urlopen(receivers.http_url("/healthz"), timeout=10) as response:
        assert (response.status, response.read()) == (200, b"ok")
    assert post(receivers.http_url("/v1/nope"), b"").status == 404
    assert post(receivers.http_url("/v1/traces"), b"", method="PUT").status == 405


def _client_context(pki: Pki, *, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


def test_tls(serve: Callable[..., Receivers], pki: Pki) -> None:
    tls = TLSConfig(cert_file=str(pki.server_cert), key_file=str(pki.server_key))
    receivers = serve(http_tls=tls)
    url = f"https://localhost:{receivers.http_port}/v1/traces"
    data = ExportTraceServiceRequest().SerializeToString()
    assert post(url, data, context=_client_context(pki, client_cert=False)).status == 200


def test_mutual_tls_requires_a_client_certificate(
    serve: Callable[..., Receivers], pki: Pki
) -> None:
    tls = TLSConfig(
        cert_file=str(pki.server_cert), key_file=str(pki.server_key), client_ca_file=str(pki.ca)
    )
    receivers = serve(http_tls=tls)
    url = f"https://localhost:{receivers.http_port}/v1/traces"
    data = traces_request(1).SerializeToString()
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        post(url, data, context=_client_context(pki, client_cert=False))
    assert post(url, data, context=_client_context(pki, client_cert=True)).status == 200
    assert receivers.log.payloads(Signal.TRACES) == [data]
