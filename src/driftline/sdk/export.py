"""OTLP exporters for the SDK, chosen and addressed by the OpenTelemetry environment variables,
and kept quiet and bounded when the collector is down.

Resolution for a signal S (TRACES, LOGS), as the OTel exporter specification says:

    protocol  OTEL_EXPORTER_OTLP_S_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `grpc`
              (driftline's :4317; the spec's other values `http/protobuf` and `http/json` —
              json is sent as protobuf, which driftline's :4318 takes too, with one warning)
    endpoint  an `endpoint=` argument, else OTEL_EXPORTER_OTLP_S_ENDPOINT, else
              OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4317 (grpc) or
              http://localhost:4318 (http). Over HTTP a per-signal URL is used as it is, while
              the base URL (and `endpoint=`) gets `v1/traces` or `v1/logs` appended.
    timeout   OTEL_EXPORTER_OTLP_S_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT, in MILLISECONDS
              as the spec says (the Python exporters would read seconds), default 10 s.
    headers, compression, certificates, insecure
              read by the OpenTelemetry exporters themselves from the same variables.

The collector being down must not cost the application: every exporter is wrapped in a
`GuardedExporter`. Its first failed export logs ONE warning (with the exporter's last error)
and opens a circuit: for `RETRY_AFTER_S` batches are dropped at once (counted in
`dropped()`), then one export tries again; a success logs that exporting resumed. The OTel
exporters' own per-attempt warnings are filtered out meanwhile. At shutdown an open circuit
drops what is left instead of retrying, and `shutdown_bounded` gives every provider's shutdown
one shared deadline: a script ends in about its own time plus that deadline, not 39 s.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

Signal = Literal["traces", "logs"]
Protocol = Literal["grpc", "http/protobuf"]

DEFAULT_GRPC: Final = "http://localhost:4317"
DEFAULT_HTTP: Final = "http://localhost:4318"
DEFAULT_TIMEOUT_S: Final = 10.0
RETRY_AFTER_S: Final = 5.0
SHUTDOWN_TIMEOUT_S: Final = 3.0
GAVE_UP_WAIT_S: Final = 0.2

log = logging.getLogger("driftline.sdk")

# The loggers the OTel SDK and exporters report failed attempts on.
_EXPORTER_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.sdk._shared_internal",
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how one signal is exported."""

    signal: Signal
    protocol: Protocol
    endpoint: str
    timeout_s: float


def resolve(
    signal: Signal, endpoint: str | None = None, env: Mapping[str, str] | None = None
) -> Target:
    """The target for `signal` from `endpoint=` and the OTEL_EXPORTER_OTLP_* variables."""
    env = os.environ if env is None else env
    s = signal.upper()
    protocol = _protocol(
        env.get(f"OTEL_EXPORTER_OTLP_{s}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    )
    per_signal = env.get(f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT", "").strip()
    base = (endpoint or "").strip() or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if protocol == "grpc":
        url = (per_signal if not endpoint else "") or base or DEFAULT_GRPC
    elif per_signal and not endpoint:
        url = per_signal
    else:
        url = _signal_url(base or DEFAULT_HTTP, signal)
    return Target(signal, protocol, url, _timeout_s(env, s))


def _protocol(value: str | None) -> Protocol:
    text = (value or "grpc").strip().lower()
    if text == "grpc":
        return "grpc"
    if text == "http/protobuf":
        return "http/protobuf"
    if text == "http/json":
        _warn_once("json", "driftline sdk: OTLP http/json is sent as http/protobuf")
        return "http/protobuf"
    _warn_once("protocol", f"driftline sdk: unknown OTLP protocol {value!r}, using grpc")
    return "grpc"


def _signal_url(base: str, signal: Signal) -> str:
    if "://" not in base:
        base = f"http://{base}"
    return f"{base.rstrip('/')}/v1/{signal}"


def _timeout_s(env: Mapping[str, str], s: str) -> float:
    raw = env.get(f"OTEL_EXPORTER_OTLP_{s}_TIMEOUT") or env.get("OTEL_EXPORTER_OTLP_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        millis = float(raw)
    except ValueError:
        _warn_once("timeout", f"driftline sdk: OTEL_EXPORTER_OTLP_TIMEOUT {raw!r} is not a number")
        return DEFAULT_TIMEOUT_S
    return millis / 1000 if millis > 0 else DEFAULT_TIMEOUT_S


def exporter(
    target: Target,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    insecure: bool | None = None,
) -> GuardedExporter:
    """The OTel exporter for `target`, guarded."""
    args: dict[str, Any] = {"endpoint": target.endpoint, "timeout": timeout_s or target.timeout_s}
    if headers:
        args["headers"] = dict(headers)
    if insecure is not None and target.protocol == "grpc":
        args["insecure"] = insecure
    inner: Any
    if target.protocol == "grpc":
        if target.signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            inner = OTLPSpanExporter(**args)
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

            inner = OTLPLogExporter(**args)
    elif target.signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        inner = HttpSpanExporter(**args)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (
            OTLPLogExporter as HttpLogExporter,
        )

        inner = HttpLogExporter(**args)
    _quiet_exporter_loggers()
    return GuardedExporter(inner, target)


class _Circuit:
    """Whether a collector endpoint is known unreachable, shared by every exporter sending to
    it: after the log exporter failed, the span exporter does not wait out its retries too."""

    def __init__(self) -> None:
        self.down = False
        self.retry_at = 0.0
        self.warned = False


_circuits: dict[str, _Circuit] = {}
_circuits_lock = threading.Lock()


def _circuit(endpoint: str) -> _Circuit:
    key = endpoint.split("://")[-1].split("/")[0]  # host:port: one collector, both signals
    with _circuits_lock:
        return _circuits.setdefault(key, _Circuit())


class GuardedExporter:
    """A span or log exporter that stops trying for a while after a failure (see module doc)."""

    def __init__(self, inner: Any, target: Target) -> None:
        self._inner = inner
        self.target = target
        self._circuit = _circuit(target.endpoint)
        self._closing = False
        self._failure = _failure(target.signal)

    def export(self, batch: Sequence[Any]) -> Any:
        c = self._circuit
        with _circuits_lock:
            skip = c.down and (self._closing or time.monotonic() < c.retry_at)
        if skip:
            _count_dropped(len(batch))
            return self._failure
        try:
            result = self._inner.export(batch)
        except Exception as exc:  # an exporter must never raise into the SDK's worker
            _LAST_ERROR[0] = repr(exc)
            result = self._failure
        self._after(getattr(result, "name", "") == "SUCCESS", len(batch))
        return result

    def _after(self, ok: bool, n: int) -> None:
        c = self._circuit
        with _circuits_lock:
            was_down, c.down = c.down, not ok
            if not ok:
                c.retry_at = time.monotonic() + RETRY_AFTER_S
            warn = not ok and not c.warned and not _OUTAGE_WARNED[0]
            c.warned = c.warned or not ok
        if not ok:
            _count_dropped(n)
        if warn:
            _OUTAGE_WARNED[0] = True
            log.warning(
                "driftline sdk: cannot export %s to %s over %s (%s); dropping telemetry while "
                "it is unreachable, retrying every %.0f s (logged once; count in "
                "sdk.sdk_dropped())",
                self.target.signal, self.target.endpoint, self.target.protocol,
                _LAST_ERROR[0] or "no answer", RETRY_AFTER_S,
            )  # fmt: skip
        elif ok and was_down:
            log.warning(
                "driftline sdk: exporting to %s again", self.target.endpoint.split("://")[-1]
            )

    @property
    def down(self) -> bool:
        return self._circuit.down

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self._closing = True
        try:
            self._inner.shutdown()
        except Exception as exc:
            log.debug("exporter shutdown failed: %r", exc)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        flush = getattr(self._inner, "force_flush", None)
        return bool(flush(timeout_millis)) if callable(flush) else True


def _failure(signal: Signal) -> Any:
    """The FAILURE member of the signal's export result enum."""
    if signal == "logs":
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        return LogRecordExportResult.FAILURE
    from opentelemetry.sdk.trace.export import SpanExportResult

    return SpanExportResult.FAILURE


def shutdown_bounded(steps: Sequence[Callable[[], Any]], timeout_s: float) -> bool:
    """Run `steps` in order on a daemon thread, waiting at most `timeout_s` in all; True when
    they finished. What is still exporting after that is abandoned (the process may exit).
    Once a shutdown timed out, later ones wait only briefly: the collector is not answering."""
    if _GAVE_UP[0]:
        timeout_s = min(timeout_s, GAVE_UP_WAIT_S)
    done = threading.Event()

    def run() -> None:
        for step in steps:
            try:
                step()
            except Exception as exc:
                log.debug("shutdown step failed: %r", exc)
        done.set()

    threading.Thread(target=run, name="driftline-sdk-shutdown", daemon=True).start()
    finished = done.wait(timeout_s)
    if not finished:
        _GAVE_UP[0] = True
    if not finished and not _OUTAGE_WARNED[0]:
        _OUTAGE_WARNED[0] = True
        log.warning(
            "driftline sdk: the collector did not take the last telemetry within %.1f s; "
            "going on without it (is it running? last error: %s; logged once)",
            timeout_s, _LAST_ERROR[0] or "none yet",
        )  # fmt: skip
    return finished


# ---- the exporters' own logging, and counts ---------------------------------------------------

_LAST_ERROR: list[str] = [""]
_OUTAGE_WARNED = [False]
_GAVE_UP = [False]
_dropped = [0]
_dropped_lock = threading.Lock()
_warned_once: set[str] = set()


def _count_dropped(n: int) -> None:
    with _dropped_lock:
        _dropped[0] += n


def dropped() -> int:
    """Items (spans, log records) dropped because the collector could not be reached."""
    with _dropped_lock:
        return _dropped[0]


def _warn_once(key: str, message: str) -> None:
    if key not in _warned_once:
        _warned_once.add(key)
        log.warning(message)


class _AttemptFilter(logging.Filter):
    """Keeps the OTel exporters' per-attempt warnings and errors out of the application's log
    (the guard logs one line per outage instead), remembering the last one for that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or "Queue full" in str(record.msg):
            return True
        try:
            _LAST_ERROR[0] = record.getMessage()[:200]
        except Exception:
            _LAST_ERROR[0] = str(record.msg)[:200]
        return False


_FILTER: Final = _AttemptFilter()


def _quiet_exporter_loggers() -> None:
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
