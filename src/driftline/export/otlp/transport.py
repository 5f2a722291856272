"""What a transport promises: send one request body, say how it went, classify failures.

A transport maps its wire's answers onto driftline's error tree, following the OTLP rules
(reference/anchors-collector.md §7), so the forwarder never looks at codes itself:

- accepted, maybe partially   → `Accepted(rejected, message)`; never retried
- retryable                   → `ExportRetryable(code, delay_s)`: delay_s from gRPC RetryInfo
                                 or HTTP Retry-After when the server sent one
- anything else               → `ExportRefused(code)`: permanent, counted, never retried
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from driftline.errors import PermanentError, UnavailableError
from driftline.signals import Signal


@dataclass(frozen=True, slots=True)
class Accepted:
    rejected: int = 0  # partial success: items the destination refused
    message: str = ""  # partial success's error_message (a warning when rejected == 0)


class ExportRetryable(UnavailableError):
    """The destination may accept the same request later. The OTLP rules make only the
    destination's state retryable (unavailable, throttled, …), never the data: so it is an
    UnavailableError, retried until the destination returns (max_elapsed_time permitting)."""

    def __init__(self, message: str, *, code: str, delay_s: float | None = None) -> None:
        super().__init__(message, delay_s=delay_s)
        self.code = code  # e.g. "unavailable", "http_503", "connection": a metric label


class ExportRefused(PermanentError):
    """The destination will refuse this request again (bad data, auth, not found …)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class Transport(Protocol):
    def export(self, signal: Signal, body: bytes) -> Accepted:
        """Send one serialized Export*ServiceRequest; raise ExportRetryable / ExportRefused."""
        ...

    def close(self) -> None: ...
