"""driftline errors → OTLP answers: the one table both receivers use (the edge mapping).

    InvalidInputError          INVALID_ARGUMENT + BadRequest    400                invalid
    TooLargeError              RESOURCE_EXHAUSTED               413                too_large
    WalFullError               UNAVAILABLE + RetryInfo          503 + Retry-After  backpressure
    other RetryableError       UNAVAILABLE (+ RetryInfo)        503 (+ Retry-After) internal
    bad or missing token       UNAUTHENTICATED                  401                unauthenticated
    anything else (bug, I/O)   UNAVAILABLE                      503                internal

(error → gRPC code → HTTP status → `reason` label of RECEIVER_REJECTED). Unexpected errors are
retryable on purpose: the client keeps the data and tries again, so nothing is lost silently.

The details travel as a `google.rpc.Status`: in the `grpc-status-details-bin` trailer over gRPC
(plus the RetryInfo alone in `google.rpc.retryinfo-bin`, for opentelemetry-python's exporter),
as the response body over HTTP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from driftline.errors import InvalidInputError, RetryableError, TooLargeError, WalFullError

# How long a client is told to wait when the WAL is full but did not say (WalConfig.retry_after_s).
DEFAULT_RETRY_AFTER_S: Final = 5.0
INTERNAL_MESSAGE: Final = "internal error: the request was not stored; retry later"
GRPC_DETAILS_KEY: Final = "grpc-status-details-bin"  # google.rpc.Status, read by grpc_status
RETRY_INFO_KEY: Final = "google.rpc.retryinfo-bin"  # google.rpc.RetryInfo alone


@dataclass(frozen=True, slots=True)
class Failure:
    """A whole request refused, in the terms of both transports."""

    code: grpc.StatusCode
    http_status: int
    reason: str  # the `reason` label of RECEIVER_REJECTED
    message: str
    retry_after_s: float | None = None

    @property
    def code_label(self) -> str:
        """The `code` label of RECEIVER_REQUESTS, e.g. invalid_argument."""
        return str(self.code.name).lower()

    @property
    def retry_after_header(self) -> str | None:
        """HTTP `Retry-After` (whole seconds, rounded up, at least 1), when a delay applies."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))

    def to_status(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.code is grpc.StatusCode.INVALID_ARGUMENT:
            violation = error_details_pb2.BadRequest.FieldViolation(
                field="request", description=self.message
            )
            _add_detail(status, error_details_pb2.BadRequest(field_violations=[violation]))
        retry_info = self.retry_info()
        if retry_info is not None:
            _add_detail(status, retry_info)
        return status

    def retry_info(self) -> error_details_pb2.RetryInfo | None:
        if self.retry_after_s is None:
            return None
        seconds = math.floor(self.retry_after_s)
        nanos = round((self.retry_after_s - seconds) * 1e9)
        return error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos)
        )

    def grpc_trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        """The status details, plus the RetryInfo alone under `google.rpc.retryinfo-bin`,
        which is where the Python OTLP exporter looks for the delay."""
        trailers = [(GRPC_DETAILS_KEY, self.to_status().SerializeToString())]
        retry_info = self.retry_info()
        if retry_info is not None:
            trailers.append((RETRY_INFO_KEY, retry_info.SerializeToString()))
        return tuple(trailers)


def _add_detail(status: status_pb2.Status, detail: Message) -> None:
    packed = any_pb2.Any()
    packed.Pack(detail)
    status.details.append(packed)


UNAUTHENTICATED: Final = Failure(
    grpc.StatusCode.UNAUTHENTICATED,
    401,
    "unauthenticated",
    "missing or invalid bearer token in the authorization header",
)


def classify(exc: BaseException) -> Failure:
    """Map an exception raised while decoding or storing a request to its answer."""
    if isinstance(exc, InvalidInputError):
        return Failure(grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid", str(exc))
    if isinstance(exc, TooLargeError):
        return Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "too_large", str(exc))
    if isinstance(exc, WalFullError):
        delay = exc.delay_s if exc.delay_s is not None else DEFAULT_RETRY_AFTER_S
        return Failure(grpc.StatusCode.UNAVAILABLE, 503, "backpressure", str(exc), delay)
    if isinstance(exc, RetryableError):
        return Failure(grpc.StatusCode.UNAVAILABLE, 503, "internal", str(exc), exc.delay_s)
    return Failure(grpc.StatusCode.UNAVAILABLE, 503, "internal", INTERNAL_MESSAGE)
