"""The error → status table shared by both receivers."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from driftline.errors import InvalidInputError, RetryableError, TooLargeError, WalFullError
from driftline.receiver.status import DEFAULT_RETRY_AFTER_S, INTERNAL_MESSAGE, classify


@pytest.mark.parametrize(
    ("exc", "code", "http", "reason"),
    [
        (InvalidInputError("bad"), grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid"),
        (TooLargeError("big"), grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "too_large"),
        (WalFullError("full", delay_s=2.5), grpc.StatusCode.UNAVAILABLE, 503, "backpressure"),
        (RetryableError("later"), grpc.StatusCode.UNAVAILABLE, 503, "internal"),
        (OSError("disk on fire"), grpc.StatusCode.UNAVAILABLE, 503, "internal"),
    ],
)
def test_classify(exc: Exception, code: grpc.StatusCode, http: int, reason: str) -> None:
    failure = classify(exc)
    assert (failure.code, failure.http_status, failure.reason) == (code, http, reason)
    assert failure.to_status().code == code.value[0]


def test_wal_full_carries_retry_info_and_a_rounded_up_retry_after() -> None:
    failure = classify(WalFullError("full", delay_s=2.25))
    assert failure.retry_after_header == "3"
    (detail,) = failure.to_status().details
    info = error_details_pb2.RetryInfo()
    assert detail.Unpack(info)
    assert info.retry_delay.ToTimedelta().total_seconds() == 2.25


def test_wal_full_without_a_delay_gets_the_default() -> None:
    assert classify(WalFullError("full")).retry_after_s == DEFAULT_RETRY_AFTER_S
    assert classify(WalFullError("full", delay_s=0.1)).retry_after_header == "1"


def test_unexpected_errors_do_not_leak_details() -> None:
    assert classify(RuntimeError("secret path /x")).message == INTERNAL_MESSAGE


def test_invalid_input_carries_bad_request() -> None:
    (detail,) = classify(InvalidInputError("bad hex")).to_status().details
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    assert bad_request.field_violations[0].description == "bad hex"
