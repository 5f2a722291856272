"""OTLP/gRPC receiver over loopback, with raw-bytes gRPC clients."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from receiver_harness import (
    LOGS_METHOD,
    METRICS_METHOD,
    TRACES_METHOD,
    Pki,
    Receivers,
    logs_request,
    metrics_request,
    span_names,
    traces_request,
)

from driftline import telemetry
from driftline.config.model import TLSConfig
from driftline.signals import Signal

TIMEOUT_S = 10


@pytest.fixture
def channel(receivers: Receivers) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(receivers.grpc_target) as channel:
        yield channel


def export(channel: grpc.Channel, method: str, data: bytes, **kwargs: object) -> bytes:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    return call(data, timeout=TIMEOUT_S, **kwargs)  # type: ignore[no-any-return]


def rpc_error(fn: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        fn()
    return caught.value


@pytest.mark.parametrize(
    ("method", "signal", "data"),
    [
        (TRACES_METHOD, Signal.TRACES, traces_request(20).SerializeToString()),
        (METRICS_METHOD, Signal.METRICS, metrics_request().SerializeToString()),
        (LOGS_METHOD, Signal.LOGS, logs_request(5).SerializeToString()),
    ],
)
def test_valid_request_is_stored_byte_for_byte_before_ok(
    receivers: Receivers, channel: grpc.Channel, method: str, signal: Signal, data: bytes
) -> None:
    assert export(channel, method, data) == b""  # empty response: partial_success unset
    assert receivers.log.records == [(int(signal), data)]


def test_gzip_request_is_decompressed_by_grpc(receivers: Receivers, channel: grpc.Channel) -> None:
    data = traces_request(200).SerializeToString()
    assert export(channel, TRACES_METHOD, data, compression=grpc.Compression.Gzip) == b""
    assert receivers.log.payloads(Signal.TRACES) == [data]


def test_empty_request_succeeds_and_stores_nothing(
    receivers: Receivers, channel: grpc.Channel
) -> None:
    assert export(channel, TRACES_METHOD, b"") == b""
    assert receivers.log.records == []


def test_garbage_is_invalid_argument(receivers: Receivers, channel: grpc.Channel) -> None:
    error = rpc_error(lambda: export(channel, METRICS_METHOD, b"\x0a\xff\xff\xff\xff garbage"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid protobuf ExportMetricsServiceRequest" in error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    assert status.details[0].Is(error_details_pb2.BadRequest.DESCRIPTOR)
    assert receivers.log.records == []


def test_invalid_utf8_is_invalid_argument(receivers: Receivers, channel: grpc.Channel) -> None:
    data = traces_request(1).SerializeToString().replace(b"span-0", b"span-\xc3")
    error = rpc_error(lambda: export(channel, TRACES_METHOD, data))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in error.details()


def test_invalid_spans_are_a_partial_success(receivers: Receivers, channel: grpc.Channel) -> None:
    bad = {"trace_id": bytes(16)}
    data = traces_request(6, overrides={0: bad, 4: {"span_id": b"\x01"}}).SerializeToString()
    response = ExportTraceServiceResponse.FromString(export(channel, TRACES_METHOD, data))
    assert response.partial_success.rejected_spans == 2
    assert "rejected 2 of 6 spans" in response.partial_success.error_message
    (stored,) = receivers.log.payloads(Signal.TRACES)
    assert span_names(stored) == ["span-1", "span-2", "span-3", "span-5"]


def test_huge_attribute_count_is_a_partial_success(
    receivers: Receivers, channel: grpc.Channel
) -> None:
    request = logs_request(3)
    record = request.resource_logs[0].scope_logs[0].log_records[2]
    for a in range(5000):
        record.attributes.add(key=f"feature.{a}").value.int_value = a
    response = ExportLogsServiceResponse.FromString(
        export(channel, LOGS_METHOD, request.SerializeToString())
    )
    assert response.partial_success.rejected_log_records == 1
    assert "more than 128 attributes" in response.partial_success.error_message
    assert len(receivers.log.records) == 1


def test_all_items_invalid_stores_nothing(receivers: Receivers, channel: grpc.Channel) -> None:
    request = metrics_request()
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        metric.name = ""
    response = ExportMetricsServiceResponse.FromString(
        export(channel, METRICS_METHOD, request.SerializeToString())
    )
    assert response.partial_success.rejected_data_points == 9
    assert receivers.log.records == []


def test_oversized_request_is_resource_exhausted(serve: Callable[..., Receivers]) -> None:
    receivers = serve(max_mib=1)
    data = traces_request(1, overrides={0: {"name": "x" * (2 << 20)}}).SerializeToString()
    with grpc.insecure_channel(receivers.grpc_target) as channel:
        error = rpc_error(lambda: export(channel, TRACES_METHOD, data))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert receivers.log.records == []


def test_gzip_bomb_is_resource_exhausted(serve: Callable[..., Receivers]) -> None:
    receivers = serve(max_mib=1)
    data = traces_request(1, overrides={0: {"name": "x" * (8 << 20)}}).SerializeToString()
    assert len(gzip.compress(data)) < 1 << 20  # small on the wire, 8 MiB inflated
    with grpc.insecure_channel(receivers.grpc_target) as channel:
        error = rpc_error(
            lambda: export(channel, TRACES_METHOD, data, compression=grpc.Compression.Gzip)
        )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert receivers.log.records == []


@pytest.mark.parametrize(
    "metadata", [None, (("authorization", "Bearer wrong"),), (("authorization", "s3cret"),)]
)
def test_missing_or_wrong_token_is_unauthenticated(
    serve: Callable[..., Receivers], metadata: tuple[tuple[str, str], ...] | None
) -> None:
    receivers = serve(token="s3cret")
    data = traces_request(1).SerializeToString()
    with grpc.insecure_channel(receivers.grpc_target) as channel:
        error = rpc_error(lambda: export(channel, TRACES_METHOD, data, metadata=metadata))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert receivers.log.records == []


def test_right_token_is_accepted(serve: Callable[..., Receivers]) -> None:
    receivers = serve(token="s3cret")
    data = traces_request(1).SerializeToString()
    with grpc.insecure_channel(receivers.grpc_target) as channel:
        export(channel, TRACES_METHOD, data, metadata=(("authorization", "Bearer s3cret"),))
    assert receivers.log.payloads(Signal.TRACES) == [data]


def test_wal_full_is_unavailable_with_retry_info(
    receivers: Receivers, channel: grpc.Channel
) -> None:
    receivers.log.full_delay_s = 2.5
    error = rpc_error(lambda: export(channel, TRACES_METHOD, traces_request(3).SerializeToString()))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    status = rpc_status.from_call(error)
    assert status is not None
    retry_info = error_details_pb2.RetryInfo()
    assert any(detail.Unpack(retry_info) for detail in status.details)
    assert retry_info.retry_delay.ToTimedelta().total_seconds() == 2.5


def test_unexpected_log_failure_is_unavailable(receivers: Receivers, channel: grpc.Channel) -> None:
    receivers.log.fail_with = OSError("No space left on device")
    error = rpc_error(lambda: export(channel, TRACES_METHOD, traces_request(3).SerializeToString()))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "No space" not in error.details()


def test_health_is_serving(receivers: Receivers, channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in (
        "",
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "opentelemetry.proto.collector.logs.v1.LogsService",
    ):
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_requests_and_items_are_counted(receivers: Receivers, channel: grpc.Channel) -> None:
    def sample(name: str, **labels: str) -> float:
        value = telemetry.REGISTRY.get_sample_value(name, {"transport": "grpc", **labels})
        return value or 0.0

    accepted = sample("driftline_receiver_accepted_items_total", signal="traces")
    rejected = sample("driftline_receiver_rejected_items_total", signal="traces", reason="invalid")
    partial = sample("driftline_receiver_requests_total", signal="traces", code="partial")
    data = traces_request(5, overrides={1: {"span_id": b""}}).SerializeToString()
    export(channel, TRACES_METHOD, data)
    assert sample("driftline_receiver_accepted_items_total", signal="traces") == accepted + 4
    assert (
        sample("driftline_receiver_rejected_items_total", signal="traces", reason="invalid")
        == rejected + 1
    )
    assert (
        sample("driftline_receiver_requests_total", signal="traces", code="partial") == partial + 1
    )


def _tls_channel(receivers: Receivers, pki: Pki, *, client_cert: bool) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes() if client_cert else None,
        certificate_chain=pki.client_cert.read_bytes() if client_cert else None,
    )
    return grpc.secure_channel(f"localhost:{receivers.grpc_port}", credentials)


def test_tls(serve: Callable[..., Receivers], pki: Pki) -> None:
    tls = TLSConfig(cert_file=str(pki.server_cert), key_file=str(pki.server_key))
    receivers = serve(grpc_tls=tls)
    data = traces_request(2).SerializeToString()
    with _tls_channel(receivers, pki, client_cert=False) as channel:
        assert export(channel, TRACES_METHOD, data) == b""
    with grpc.insecure_channel(receivers.grpc_target) as plaintext:
        error = rpc_error(lambda: export(plaintext, TRACES_METHOD, data))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert receivers.log.payloads(Signal.TRACES) == [data]


def test_mutual_tls_requires_a_client_certificate(
    serve: Callable[..., Receivers], pki: Pki
) -> None:
    tls = TLSConfig(
        cert_file=str(pki.server_cert), key_file=str(pki.server_key), client_ca_file=str(pki.ca)
    )
    receivers = serve(grpc_tls=tls)
    data = traces_request(2).SerializeToString()
    with _tls_channel(receivers, pki, client_cert=False) as channel:
        error = rpc_error(lambda: export(channel, TRACES_METHOD, data))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
    with _tls_channel(receivers, pki, client_cert=True) as channel:
        assert export(channel, TRACES_METHOD, data) == b""
    assert receivers.log.payloads(Signal.TRACES) == [data]
