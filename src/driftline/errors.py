"""The error tree. Components raise these; only the edges (receivers, API) map them to codes.

DriftlineError
├── PermanentError        the same input fails again: never retry, count it
│   ├── InvalidInputError malformed request or data (INVALID_ARGUMENT / 400)
│   ├── NotFoundError     what the request names does not exist (NOT_FOUND)
│   ├── EmptyWindowError  a window of an analytics question holds no data (FAILED_PRECONDITION)
│   ├── TooLargeError     over a configured size limit (RESOURCE_EXHAUSTED / 413)
│   └── RepeatedFailureError  a retryable error that kept coming back on the same data
├── RetryableError        try again later, after `delay_s` if given; repeating on the same
│   │                     data it becomes permanent (retry_on_failure.permanent_after)
│   ├── UnavailableError  the destination itself is down, full or overloaded — not the data's
│   │                     fault: retried without that bound, never set aside
│   ├── BatchTooLargeError  the engine ran out of memory on this batch: split it, don't repeat it
│   └── WalFullError      the WAL is at its size cap (UNAVAILABLE + RetryInfo / 503)
├── ConfigError           configuration is invalid; carries every problem found
├── StartupError          `serve` cannot start for a reason the user can fix (one line, exit 2)
│   ├── ListenError       an endpoint cannot be listened on (busy port, no such address)
│   └── DataDirInUseError another process holds the data dir's lock (a second `serve`)
└── WalCorruptionError    a WAL file cannot be interpreted at all (startup only)
"""

from __future__ import annotations


class DriftlineError(Exception):
    """Base of every error driftline raises on purpose."""


class PermanentError(DriftlineError):
    """The same input will fail again: drop it, count it, never retry."""


class InvalidInputError(PermanentError):
    """The request or data is malformed."""


class NotFoundError(PermanentError):
    """The request names something (a model, a trace, a reference) that is not stored."""


class EmptyWindowError(PermanentError):
    """A window of a drift, latency or performance question holds no (finite) values."""


class TooLargeError(PermanentError):
    """The request exceeds a configured size limit."""


class RepeatedFailureError(PermanentError):
    """A retryable error came back `permanent_after` times on the same data: treated as a
    refusal of that data (set aside), so one record can never stall a consumer. `tables` as
    in RetryableError."""

    def __init__(self, message: str, *, tables: frozenset[str] | None = None) -> None:
        super().__init__(message)
        self.tables = tables


class RetryableError(DriftlineError):
    """A transient failure; retry after `delay_s` seconds when the server gave one.

    `tables`: when a write to several tables failed in only some, the ones that failed (None:
    all, or not a table write) — a retry with other tokens must go to those only."""

    def __init__(
        self,
        message: str,
        *,
        delay_s: float | None = None,
        tables: frozenset[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.tables = tables


class UnavailableError(RetryableError):
    """The destination is unreachable, out of disk, or overloaded: it would refuse any data.
    Retried until it returns (max_elapsed_time permitting), never charged to the records."""


class BatchTooLargeError(RetryableError):
    """The engine ran out of memory on this batch (ClickHouse MEMORY_LIMIT_EXCEEDED, 241):
    smaller sub-batches may pass where repeating the same one would not."""


class WalFullError(RetryableError):
    """The write-ahead log is at its size cap; the client should back off."""


class ConfigError(DriftlineError):
    """Configuration problems, all of them, each naming its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


class StartupError(DriftlineError):
    """`serve` cannot start for a reason the user can fix; the CLI prints it as one line."""


class ListenError(StartupError, OSError):
    """`component` cannot listen on `endpoint` (the value of config key `config_key`)."""

    def __init__(self, component: str, endpoint: str, config_key: str, detail: str) -> None:
        super().__init__(f"{component} cannot listen on {endpoint}: {detail}")
        self.component = component
        self.endpoint = endpoint
        self.config_key = config_key
        self.detail = detail


class DataDirInUseError(StartupError):
    """The WAL directory is locked by another open WAL: a second `serve` on one data dir."""


class WalCorruptionError(DriftlineError):
    """A WAL directory or ledger that cannot be interpreted."""
