"""Where the attributes of a decoded OTLP export request live, per signal.

The processors change requests in place; these generators hand them every repeated `KeyValue`
field (resource, scope, item, span event and link, exemplar, metric metadata) and, for logs,
every record body. Yielded containers are live views into the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from driftline.signals import Signal

# A repeated KeyValue field (RepeatedCompositeFieldContainer[KeyValue]); typed loosely because
# the generated OTLP modules carry no type information.
Attributes = Any
AnyValue = Any


def resources(signal: Signal, request: Any) -> Iterator[Any]:
    """The `Resource` messages of a request (one per resource_* entry)."""
    for entry in getattr(request, _RESOURCE_FIELD[signal]):
        yield entry.resource


def _trace_attributes(request: Any) -> Iterator[Attributes]:
    for resource_spans in request.resource_spans:
        yield resource_spans.resource.attributes
        for scope_spans in resource_spans.scope_spans:
            yield scope_spans.scope.attributes
            for span in scope_spans.spans:
                yield span.attributes
                for event in span.events:
                    yield event.attributes
                for link in span.links:
                    yield link.attributes


def _data_points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return () if kind is None else getattr(metric, kind).data_points


def _metric_attributes(request: Any) -> Iterator[Attributes]:
    for resource_metrics in request.resource_metrics:
        yield resource_metrics.resource.attributes
        for scope_metrics in resource_metrics.scope_metrics:
            yield scope_metrics.scope.attributes
            for metric in scope_metrics.metrics:
                yield metric.metadata
                for point in _data_points(metric):
                    yield point.attributes
                    # Summary points have no exemplars.
                    for exemplar in getattr(point, "exemplars", ()):
                        yield exemplar.filtered_attributes


def _log_attributes(request: Any) -> Iterator[Attributes]:
    for resource_logs in request.resource_logs:
        yield resource_logs.resource.attributes
        for scope_logs in resource_logs.scope_logs:
            yield scope_logs.scope.attributes
            for record in scope_logs.log_records:
                yield record.attributes


def attribute_lists(signal: Signal, request: Any) -> Iterator[Attributes]:
    """Every repeated KeyValue field of the request, outermost first."""
    return _ATTRIBUTES[signal](request)


def log_bodies(request: Any) -> Iterator[AnyValue]:
    """The body (an AnyValue) of every log record that has one."""
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if record.HasField("body"):
                    yield record.body


_RESOURCE_FIELD: Final = {
    Signal.TRACES: "resource_spans",
    Signal.METRICS: "resource_metrics",
    Signal.LOGS: "resource_logs",
}
_ATTRIBUTES: Final[dict[Signal, Callable[[Any], Iterator[Attributes]]]] = {
    Signal.TRACES: _trace_attributes,
    Signal.METRICS: _metric_attributes,
    Signal.LOGS: _log_attributes,
}
