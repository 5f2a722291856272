"""Counting a request's items without decoding them: ~40x cheaper than a full parse.

The forwarder needs every record's item count (for max_batch_items and the sent/dropped
counters), but not the items themselves. These "skeleton" messages share the OTLP field
numbers of the resource → scope → item nesting and declare the items as `bytes`, so upb only
delimits each span (or log record, or data point) instead of building it: 0.02 ms instead of
0.9 ms per 1000 inference spans here. The descriptors are built at import, no generated code.

    Request  { repeated Resource resources = 1; }     resource_spans / _metrics / _logs
    Resource { repeated Scope scopes = 2; }           scope_spans / _metrics / _logs
    Scope    { repeated bytes items = 2; }            spans, log_records
    MScope   { repeated Metric metrics = 2; }
    Metric   { Points gauge = 5; sum = 7; histogram = 9; exponential_histogram = 10;
               summary = 11; }
    Points   { repeated bytes data_points = 1; }

Only well-formed wire data is expected (the receiver validated it before the WAL took it);
anything that does not parse raises DecodeError like the full parse would.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from driftline.signals import Signal

_PACKAGE = "driftline.otlp_count"
_REPEATED, _OPTIONAL = 3, 1
_MESSAGE, _BYTES = 11, 12
_POINT_KINDS: Final = (("gauge", 5), ("sum", 7), ("histogram", 9),
                       ("exponential_histogram", 10), ("summary", 11))  # fmt: skip


def _classes() -> dict[str, Any]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="driftline/otlp_count.proto", package=_PACKAGE, syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = fdp.message_type.add(name=name)
        for field_name, number, label, kind, type_name in fields:
            f = m.field.add(name=field_name, number=number, label=label, type=kind)
            if type_name:
                f.type_name = f".{_PACKAGE}.{type_name}"

    message("Scope", ("items", 2, _REPEATED, _BYTES, ""))
    message("Resource", ("scopes", 2, _REPEATED, _MESSAGE, "Scope"))
    message("Request", ("resources", 1, _REPEATED, _MESSAGE, "Resource"))
    message("Points", ("data_points", 1, _REPEATED, _BYTES, ""))
    message("Metric", *((k, n, _OPTIONAL, _MESSAGE, "Points") for k, n in _POINT_KINDS))
    message("MScope", ("metrics", 2, _REPEATED, _MESSAGE, "Metric"))
    message("MResource", ("scopes", 2, _REPEATED, _MESSAGE, "MScope"))
    message("MRequest", ("resources", 1, _REPEATED, _MESSAGE, "MResource"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in ("Request", "MRequest")
    }


_CLASSES: Final = _classes()
_REQUEST: Final = _CLASSES["Request"]
_METRICS_REQUEST: Final = _CLASSES["MRequest"]


def count_wire_items(signal: Signal, body: bytes) -> int:
    """Spans, data points or log records in a serialized Export*ServiceRequest."""
    if signal is Signal.METRICS:
        request = _METRICS_REQUEST.FromString(body)
        return sum(
            len(getattr(metric, kind).data_points)
            for r in request.resources
            for s in r.scopes
            for metric in s.metrics
            for kind, _ in _POINT_KINDS
            if metric.HasField(kind)
        )
    request = _REQUEST.FromString(body)
    return sum(len(s.items) for r in request.resources for s in r.scopes)
