"""Where the attributes of a decoded OTLP export request live, per signal.

The processors change requests in place; `items` hands them every repeated `KeyValue` field
(resource, scope, item, span event and link, exemplar, metric metadata), grouped by the item
that holds it — a span, a log record, a metric, or None for a resource's or scope's own — so a
caller can look at one item's bytes and skip all of its lists at once. Yielded containers are
live views into the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from driftline.signals import Signal

# A repeated KeyValue field (RepeatedCompositeFieldContainer[KeyValue]); typed loosely because
# the generated OTLP modules carry no type information.
Attributes = Any
Item = tuple[Any, list[Attributes]]  # (span / log record / metric, or None; its lists)


def resources(signal: Signal, request: Any) -> Iterator[Any]:
    """The `Resource` messages of a request (one per resource_* entry)."""
    for entry in getattr(request, _RESOURCE_FIELD[signal]):
        yield entry.resource


def _trace_items(request: Any) -> Iterator[Item]:
    for resource_spans in request.resource_spans:
        yield None, [resource_spans.resource.attributes]
        for scope_spans in resource_spans.scope_spans:
            yield None, [scope_spans.scope.attributes]
            for span in scope_spans.spans:
                lists = [span.attributes]
                if span.events:
                    lists += [event.attributes for event in span.events]
                if span.links:
                    lists += [link.attributes for link in span.links]
                yield span, lists


def _data_points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return () if kind is None else getattr(metric, kind).data_points


def _metric_items(request: Any) -> Iterator[Item]:
    for resource_metrics in request.resource_metrics:
        yield None, [resource_metrics.resource.attributes]
        for scope_metrics in resource_metrics.scope_metrics:
            yield None, [scope_metrics.scope.attributes]
            for metric in scope_metrics.metrics:
                lists = [metric.metadata]
                for point in _data_points(metric):
                    lists.append(point.attributes)
                    # Summary points have no exemplars.
                    lists += [e.filtered_attributes for e in getattr(point, "exemplars", ())]
                yield metric, lists


def _log_items(request: Any) -> Iterator[Item]:
    for resource_logs in request.resource_logs:
        yield None, [resource_logs.resource.attributes]
        for scope_logs in resource_logs.scope_logs:
            yield None, [scope_logs.scope.attributes]
            for record in scope_logs.log_records:
                yield record, [record.attributes]


def items(signal: Signal, request: Any) -> Iterator[Item]:
    """Every repeated KeyValue field of the request, by holder, outermost first. For logs the
    holder is the LogRecord, whose `body` the caller reads itself."""
    return _ITEMS[signal](request)


_RESOURCE_FIELD: Final = {
    Signal.TRACES: "resource_spans",
    Signal.METRICS: "resource_metrics",
    Signal.LOGS: "resource_logs",
}
_ITEMS: Final[dict[Signal, Callable[[Any], Iterator[Item]]]] = {
    Signal.TRACES: _trace_items,
    Signal.METRICS: _metric_items,
    Signal.LOGS: _log_items,
}
