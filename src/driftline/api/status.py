"""driftline errors → gRPC status codes for the query API (the edge mapping).

InvalidInputError (SqlError, StatementError, bad request)   INVALID_ARGUMENT
NotFoundError (unknown model, trace, reference)              NOT_FOUND
other PermanentError (e.g. an empty window)                   FAILED_PRECONDITION
SqlTimeoutError, or the caller's deadline already passed      DEADLINE_EXCEEDED
TooLargeError (SqlTooLargeError)                              RESOURCE_EXHAUSTED
RetryableError (StorageUnavailableError)                      UNAVAILABLE
bad or missing token (auth.py)                                UNAUTHENTICATED
anything else (a bug)                                         INTERNAL, logged with traceback
"""

from __future__ import annotations

import logging
from typing import Final

import grpc

from driftline.errors import (
    InvalidInputError,
    NotFoundError,
    PermanentError,
    RetryableError,
    TooLargeError,
)
from driftline.query.sql import SqlTimeoutError

INTERNAL_MESSAGE: Final = "internal error; see the server log"
log = logging.getLogger(__name__)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, InvalidInputError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, SqlTimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, str(exc)
    if isinstance(exc, TooLargeError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
    if isinstance(exc, RetryableError):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if isinstance(exc, NotFoundError):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, PermanentError):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    log.error("query API: unexpected error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE


def code_label(code: grpc.StatusCode) -> str:
    """The `code` label of QUERY_REQUESTS, e.g. invalid_argument."""
    return str(code.name).lower()
