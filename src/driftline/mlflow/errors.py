"""MLflow's error answer: `{"error_code": ..., "message": ...}` with the HTTP status MLflow's
server uses for that code (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS)."""

from __future__ import annotations

from typing import Final

INVALID_PARAMETER_VALUE: Final = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST: Final = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS: Final = "RESOURCE_ALREADY_EXISTS"
ENDPOINT_NOT_FOUND: Final = "ENDPOINT_NOT_FOUND"
TEMPORARILY_UNAVAILABLE: Final = "TEMPORARILY_UNAVAILABLE"
UNAUTHENTICATED: Final = "UNAUTHENTICATED"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"
BAD_REQUEST: Final = "BAD_REQUEST"

HTTP_STATUS: Final = {
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    BAD_REQUEST: 400,
    UNAUTHENTICATED: 401,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    INTERNAL_ERROR: 500,
    TEMPORARILY_UNAVAILABLE: 503,
}


class MlflowError(Exception):
    """An answer the client sees as MlflowException(error_code, message)."""

    def __init__(self, code: str, message: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "message": self.message}


def invalid(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def not_found(message: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, message)


def exists(message: str) -> MlflowError:
    return MlflowError(RESOURCE_ALREADY_EXISTS, message)
