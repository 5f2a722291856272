"""Decode one OTLP export request, count its items and take out the invalid ones (pure).

Rules (an item that breaks one is rejected; the rest of the request is kept):

- span: `trace_id` 16 bytes and not all zero, `span_id` 8 bytes and not all zero,
  `parent_span_id` empty or 8 bytes;
- log record: `trace_id` empty or 16 bytes, `span_id` empty or 8 bytes;
- metric: a non-empty `name` (otherwise every data point of it is rejected);
- any span, data point or log record: at most `max_attributes` attributes.

This runs for every request, so the common case — nothing invalid — is one protobuf parse plus
one tight loop per container, and the payload is then the caller's bytes, untouched. Only when
something is invalid does a second, slower pass name the problems, rebuild the containers and
re-serialize. Measured on a 1000-span request: see the receiver report in the commit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final

from google.protobuf.message import DecodeError, Message

from driftline.errors import InvalidInputError
from driftline.receiver._otlp import OTLP_SIGNALS
from driftline.signals import Signal

_ZERO_TRACE_ID: Final = bytes(16)
_ZERO_SPAN_ID: Final = bytes(8)

_SPAN_FIELDS: Final = attrgetter("trace_id", "span_id", "parent_span_id", "attributes")
_LOG_FIELDS: Final = attrgetter("trace_id", "span_id", "attributes")
_ATTRIBUTES: Final = attrgetter("attributes")

_BAD_TRACE_ID: Final = "with an invalid trace_id (must be 16 bytes, not all zero)"
_BAD_SPAN_ID: Final = "with an invalid span_id (must be 8 bytes, not all zero)"
_BAD_PARENT_ID: Final = "with an invalid parent_span_id (must be empty or 8 bytes)"
_BAD_LOG_TRACE_ID: Final = "with an invalid trace_id (must be empty or 16 bytes)"
_BAD_LOG_SPAN_ID: Final = "with an invalid span_id (must be empty or 8 bytes)"
_NO_METRIC_NAME: Final = "in a metric with an empty name"


@dataclass(frozen=True, slots=True)
class Inspection:
    """What to store and what to tell the client."""

    payload: bytes  # the serialized Export*ServiceRequest to make durable
    accepted: int  # items kept in `payload`
    rejected: int  # items taken out
    error_message: str = ""  # English, for partial_success; "" when nothing was rejected
    # The decoded request `payload` serializes (for the ingest processors); kept, not copied.
    request: Message | None = field(default=None, compare=False, repr=False)


def inspect(signal: Signal, data: bytes, max_attributes: int) -> Inspection:
    """Parse `data` as the signal's Export*ServiceRequest and check it.

    Raises InvalidInputError when the bytes are not such a message (including invalid UTF-8 in a
    string field). When nothing is invalid, `payload` is `data` itself.
    """
    return _check(signal, parse_request(signal, data), max_attributes, data)


def inspect_message(signal: Signal, request: Message, max_attributes: int) -> Inspection:
    """Like `inspect`, for a request already decoded (OTLP/JSON). May modify `request`."""
    return _check(signal, request, max_attributes, None)


def parse_request(signal: Signal, data: bytes) -> Message:
    request = OTLP_SIGNALS[signal].request_type()
    try:
        request.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidInputError(
            f"the body is not a valid protobuf {request.DESCRIPTOR.name}: {exc}"
        ) from None
    return request


def _check(
    signal: Signal, request: Message, max_attributes: int, original: bytes | None
) -> Inspection:
    total, reasons = _SCANS[signal](request, max_attributes)
    if not reasons:
        payload = original if original is not None else request.SerializeToString()
        return Inspection(payload, total, 0, request=request)
    rejected = sum(reasons.values())
    item_name = signal.item_name.replace("_", " ")
    details = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    return Inspection(
        request.SerializeToString(),
        total - rejected,
        rejected,
        f"rejected {rejected} of {total} {item_name}: {details}",
        request=request,
    )


# --- traces -----------------------------------------------------------------------------------


def _scan_traces(request: Any, max_attributes: int) -> tuple[int, Counter[str]]:
    total = 0
    dirty = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            total += len(spans)
            for trace_id, span_id, parent_id, attributes in map(_SPAN_FIELDS, spans):
                if (
                    len(trace_id) != 16
                    or trace_id == _ZERO_TRACE_ID
                    or len(span_id) != 8
                    or span_id == _ZERO_SPAN_ID
                    or (parent_id and len(parent_id) != 8)
                    or len(attributes) > max_attributes
                ):
                    dirty.append(spans)
                    break
    reasons: Counter[str] = Counter()
    if dirty:
        for spans in dirty:
            _keep_valid(spans, lambda span: _span_problem(span, max_attributes), reasons)
        for resource_spans in request.resource_spans:
            _drop_empty(resource_spans.scope_spans, "spans")
        _drop_empty(request.resource_spans, "scope_spans")
    return total, reasons


def _span_problem(span: Any, max_attributes: int) -> str | None:
    trace_id, span_id, parent_id, attributes = _SPAN_FIELDS(span)
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        return _BAD_TRACE_ID
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        return _BAD_SPAN_ID
    if parent_id and len(parent_id) != 8:
        return _BAD_PARENT_ID
    return _attributes_problem(attributes, max_attributes)


# --- logs -------------------------------------------------------------------------------------


def _scan_logs(request: Any, max_attributes: int) -> tuple[int, Counter[str]]:
    total = 0
    dirty = []
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            records = scope_logs.log_records
            total += len(records)
            for trace_id, span_id, attributes in map(_LOG_FIELDS, records):
                if (
                    (trace_id and len(trace_id) != 16)
                    or (span_id and len(span_id) != 8)
                    or len(attributes) > max_attributes
                ):
                    dirty.append(records)
                    break
    reasons: Counter[str] = Counter()
    if dirty:
        for records in dirty:
            _keep_valid(records, lambda record: _log_problem(record, max_attributes), reasons)
        for resource_logs in request.resource_logs:
            _drop_empty(resource_logs.scope_logs, "log_records")
        _drop_empty(request.resource_logs, "scope_logs")
    return total, reasons


def _log_problem(record: Any, max_attributes: int) -> str | None:
    trace_id, span_id, attributes = _LOG_FIELDS(record)
    if trace_id and len(trace_id) != 16:
        return _BAD_LOG_TRACE_ID
    if span_id and len(span_id) != 8:
        return _BAD_LOG_SPAN_ID
    return _attributes_problem(attributes, max_attributes)


# --- metrics ----------------------------------------------------------------------------------


def _data_points(metric: Any) -> Any:
    """The data points of any metric type, or () for a metric without data."""
    kind = metric.WhichOneof("data")
    return () if kind is None else getattr(metric, kind).data_points


def _scan_metrics(request: Any, max_attributes: int) -> tuple[int, Counter[str]]:
    total = 0
    unnamed: list[Any] = []  # metric lists holding a metric that has points but no name
    dirty: list[Any] = []  # data point lists holding a point with too many attributes
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            metrics = scope_metrics.metrics
            for metric in metrics:
                points = _data_points(metric)
                count = len(points)
                if not count:
                    continue
                total += count
                if not metric.name:
                    if not unnamed or unnamed[-1] is not metrics:
                        unnamed.append(metrics)
                elif max(map(len, map(_ATTRIBUTES, points))) > max_attributes:
                    dirty.append(points)
    reasons: Counter[str] = Counter()
    if unnamed or dirty:
        # Points first: rebuilding a metrics list copies its metrics, which would orphan
        # the point containers collected above.
        for points in dirty:
            _keep_valid(
                points, lambda p: _attributes_problem(p.attributes, max_attributes), reasons
            )
        for metrics in unnamed:
            kept = []
            for metric in metrics:
                if metric.name:
                    kept.append(metric)
                else:
                    reasons[_NO_METRIC_NAME] += len(_data_points(metric))
            _replace(metrics, kept)
        for resource_metrics in request.resource_metrics:
            _drop_empty(resource_metrics.scope_metrics, "metrics")
        _drop_empty(request.resource_metrics, "scope_metrics")
    return total, reasons


# --- shared -----------------------------------------------------------------------------------


def _attributes_problem(attributes: Any, max_attributes: int) -> str | None:
    if len(attributes) > max_attributes:
        return f"with more than {max_attributes} attributes"
    return None


def _keep_valid(items: Any, problem: Callable[[Any], str | None], reasons: Counter[str]) -> None:
    kept = []
    for item in items:
        reason = problem(item)
        if reason is None:
            kept.append(item)
        else:
            reasons[reason] += 1
    _replace(items, kept)


def _replace(items: Any, kept: Iterable[Any]) -> None:
    """Rebuild a repeated message field from `kept` (linear; deleting one by one is quadratic)."""
    kept = list(kept)
    if len(kept) != len(items):
        del items[:]
        items.extend(kept)


def _drop_empty(items: Any, child: str) -> None:
    """Remove the entries of a repeated field whose `child` list is empty."""
    _replace(items, [item for item in items if len(getattr(item, child))])


_SCANS: Final[dict[Signal, Callable[[Any, int], tuple[int, Counter[str]]]]] = {
    Signal.TRACES: _scan_traces,
    Signal.METRICS: _scan_metrics,
    Signal.LOGS: _scan_logs,
}
