"""OTLP/gRPC transport: raw request bytes over one shared channel, answers classified.

The body is already an encoded Export*ServiceRequest, so the method handle is built without a
serializer (bytes go to the wire untouched) and without a deserializer (the response is parsed
only for partial success). A grpc channel is thread-safe and multiplexes the calls of every
consumer thread over one HTTP/2 connection.

Retryable codes per the OTLP specification: CANCELLED, DEADLINE_EXCEEDED, ABORTED,
OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the status carries a
google.rpc.RetryInfo (otherwise it means "too large" and is permanent). A RetryInfo delay on any
retryable status is passed on as `delay_s`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from driftline.config.model import OtlpExporterConfig
from driftline.export.otlp.encode.shapes import SHAPES, rejected
from driftline.export.otlp.transport import Accepted, ExportRefused, ExportRetryable
from driftline.signals import Signal

RETRYABLE: Final = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def _target(endpoint: str) -> str:
    return endpoint.split("://", 1)[1].rstrip("/") if "://" in endpoint else endpoint


def _credentials(config: OtlpExporterConfig) -> grpc.ChannelCredentials:
    tls = config.tls
    return grpc.ssl_channel_credentials(
        root_certificates=Path(tls.ca_file).read_bytes() if tls.ca_file else None,
        private_key=Path(tls.key_file).read_bytes() if tls.key_file else None,
        certificate_chain=Path(tls.cert_file).read_bytes() if tls.cert_file else None,
    )


def retry_delay(error: grpc.RpcError) -> float | None:
    """The RetryInfo delay carried in the status details, if any."""
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # details and code/message disagree: ignore the details
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None


def classify(error: grpc.RpcError) -> ExportRetryable | ExportRefused:
    code = error.code()
    name = code.name.lower() if code is not None else "unknown"
    text = f"{name}: {error.details()}"
    delay = retry_delay(error)
    if code in RETRYABLE or (code is grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None):
        return ExportRetryable(text, code=name, delay_s=delay)
    return ExportRefused(text, code=name)


class GrpcTransport:
    def __init__(self, config: OtlpExporterConfig) -> None:
        options = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
            # grpc's own reconnect backoff grows to 120 s by default: after a long outage the
            # channel would sit idle long after the destination is back. Our retry loop
            # already backs off; the channel should just try when asked.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        target = _target(config.endpoint)
        if config.insecure:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, _credentials(config), options=options)
        self._metadata = tuple((k.lower(), v) for k, v in _headers(config.headers))
        self._timeout_s = config.timeout_s
        gzip = config.compression == "gzip"
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
        self._calls = {
            signal: self._channel.unary_unary(
                shape.grpc_method, request_serializer=None, response_deserializer=None
            )
            for signal, shape in SHAPES.items()
        }

    def export(self, signal: Signal, body: bytes) -> Accepted:
        try:
            answer: bytes = self._calls[signal](
                body,
                timeout=self._timeout_s,
                metadata=self._metadata,
                compression=self._compression,
            )
        except grpc.RpcError as e:
            raise classify(e) from None
        count, message = rejected(signal, answer)
        return Accepted(count, message)

    def close(self) -> None:
        self._channel.close()


def _headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(headers.items())
