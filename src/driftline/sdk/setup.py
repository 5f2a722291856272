"""`configure()`: tracing and logging providers that export OTLP to driftline.

Honours the standard environment variables through the OpenTelemetry SDK itself:
`OTEL_EXPORTER_OTLP_ENDPOINT` (and the per-signal `..._TRACES_/_LOGS_ENDPOINT`),
`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`. Arguments given
here win over the environment. An application that already installed a TracerProvider keeps it:
driftline's spans go through the application's pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftline.sdk.tracking import flush


@dataclass(frozen=True, slots=True)
class Configured:
    tracer_provider: trace.TracerProvider
    logger_provider: _logs.LoggerProvider
    reused_tracer_provider: bool

    def shutdown(self) -> None:
        """Flush and stop what configure() created (not a provider it reused)."""
        flush()  # deferred inference spans first, while the span processors still run
        if isinstance(self.logger_provider, LoggerProvider):
            self.logger_provider.shutdown()
        if not self.reused_tracer_provider and isinstance(self.tracer_provider, TracerProvider):
            self.tracer_provider.shutdown()


def configure(
    *,
    endpoint: str | None = None,
    service_name: str | None = None,
    headers: Mapping[str, str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    insecure: bool | None = None,
) -> Configured:
    """Set up (or reuse) the global providers; returns them for flushing at exit."""
    attrs: dict[str, Any] = dict(resource_attributes or {})
    if service_name:
        attrs["service.name"] = service_name
    resource = Resource.create(attrs)  # merges OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    exporter_args: dict[str, Any] = {}
    if endpoint is not None:
        exporter_args["endpoint"] = endpoint
        if insecure is None:
            insecure = not endpoint.startswith("https://")
    if insecure is not None:
        exporter_args["insecure"] = insecure
    if headers:
        exporter_args["headers"] = dict(headers)

    current = trace.get_tracer_provider()
    reused = isinstance(current, TracerProvider)
    if reused:
        tracer_provider: trace.TracerProvider = current
    else:
        sdk_provider = TracerProvider(resource=resource)
        sdk_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(**exporter_args)))
        trace.set_tracer_provider(sdk_provider)
        tracer_provider = sdk_provider

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(**exporter_args))
    )
    _logs.set_logger_provider(logger_provider)
    return Configured(tracer_provider, logger_provider, reused)
