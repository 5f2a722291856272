"""`configure()`: tracing and logging providers that export OTLP to driftline.

Honours the OpenTelemetry environment variables (sdk/export.py has the rules):
`OTEL_EXPORTER_OTLP_PROTOCOL` (grpc, http/protobuf) and the per-signal `…_TRACES_/_LOGS_…`
forms of it, of `…_ENDPOINT`, `…_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION` and the certificate
variables; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`. Arguments given here win over the
environment. An application that already installed a TracerProvider keeps it: driftline's
spans go through the application's pipeline.

Exit is bounded: the providers are shut down at exit (or by `Configured.shutdown()`) within
`shutdown_timeout_s` in all, and a collector that is down costs one warning, not one per
attempt.
"""

from __future__ import annotations

import atexit
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftline.sdk.export import SHUTDOWN_TIMEOUT_S, exporter, resolve, shutdown_bounded
from driftline.sdk.tracking import flush


@dataclass(slots=True)
class Configured:
    tracer_provider: trace.TracerProvider
    logger_provider: _logs.LoggerProvider
    reused_tracer_provider: bool
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S
    _done: list[bool] = field(default_factory=list)

    def shutdown(self) -> bool:
        """Flush and stop what configure() created (not a provider it reused), within
        `shutdown_timeout_s`; True if everything was exported in time. Idempotent."""
        if self._done:
            return True
        self._done.append(True)
        steps: list[Any] = [flush]  # deferred inference spans first, while processors run
        if isinstance(self.logger_provider, LoggerProvider):
            steps.append(self.logger_provider.shutdown)
        if not self.reused_tracer_provider and isinstance(self.tracer_provider, TracerProvider):
            steps.append(self.tracer_provider.shutdown)
        return shutdown_bounded(steps, self.shutdown_timeout_s)


def configure(
    *,
    endpoint: str | None = None,
    service_name: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    insecure: bool | None = None,
    shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
) -> Configured:
    """Set up (or reuse) the global providers; returns them for flushing at exit.

    `endpoint` is the collector's base address (as OTEL_EXPORTER_OTLP_ENDPOINT: over HTTP
    `/v1/traces` and `/v1/logs` are appended)."""
    attrs: dict[str, Any] = dict(resource_attributes or {})
    if service_name:
        attrs["service.name"] = service_name
    resource = Resource.create(attrs)  # merges OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    if endpoint is not None and insecure is None:
        insecure = not endpoint.startswith("https://")

    current = trace.get_tracer_provider()
    reused = isinstance(current, TracerProvider)
    if reused:
        tracer_provider: trace.TracerProvider = current
    else:
        sdk_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        spans = exporter(resolve("traces", endpoint), headers, insecure=insecure)
        sdk_provider.add_span_processor(BatchSpanProcessor(spans))  # type: ignore[arg-type]
        trace.set_tracer_provider(sdk_provider)
        tracer_provider = sdk_provider

    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logs = exporter(resolve("logs", endpoint), headers, insecure=insecure)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(logs))  # type: ignore[arg-type]
    _logs.set_logger_provider(logger_provider)
    configured = Configured(tracer_provider, logger_provider, reused, shutdown_timeout_s)
    atexit.register(configured.shutdown)
    return configured
