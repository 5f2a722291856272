"""The ingest schema must agree with OTLP on every field number and wire type it declares."""

from __future__ import annotations

import re

import pytest
from google.protobuf.descriptor import FieldDescriptor
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

from driftline.storage.ingest_sql import ingest_proto_text

# Scalar type names in .proto text → descriptor type constants. Enums are read as int32 (the
# same varint wire type), and a message read as bytes shares the length-delimited wire type.
_PROTO_TYPES = {
    "string": {FieldDescriptor.TYPE_STRING},
    "bytes": {FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE},
    "bool": {FieldDescriptor.TYPE_BOOL},
    "int64": {FieldDescriptor.TYPE_INT64},
    "int32": {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_ENUM},
    "uint32": {FieldDescriptor.TYPE_UINT32},
    "uint64": {FieldDescriptor.TYPE_UINT64},
    "sint32": {FieldDescriptor.TYPE_SINT32},
    "fixed32": {FieldDescriptor.TYPE_FIXED32},
    "fixed64": {FieldDescriptor.TYPE_FIXED64},
    "sfixed64": {FieldDescriptor.TYPE_SFIXED64},
    "double": {FieldDescriptor.TYPE_DOUBLE},
}

# Our message name → the OTLP message it mirrors.
_OTLP = {
    "ExportTraceServiceRequest": trace_service_pb2.ExportTraceServiceRequest.DESCRIPTOR,
    "ExportMetricsServiceRequest": metrics_service_pb2.ExportMetricsServiceRequest.DESCRIPTOR,
    "ExportLogsServiceRequest": logs_service_pb2.ExportLogsServiceRequest.DESCRIPTOR,
    "AnyValue": common_pb2.AnyValue.DESCRIPTOR,
    "LeafValue": common_pb2.AnyValue.DESCRIPTOR,
    "KeyValue": common_pb2.KeyValue.DESCRIPTOR,
    "LeafKeyValue": common_pb2.KeyValue.DESCRIPTOR,
    "ArrayValue": common_pb2.ArrayValue.DESCRIPTOR,
    "KeyValueList": common_pb2.KeyValueList.DESCRIPTOR,
}
_FIELD = re.compile(r"^\s*(repeated\s+)?(\w+)\s+(\w+)\s*=\s*(\d+);")


def _messages(text: str) -> dict[str, list[tuple[bool, str, str, int]]]:
    """Parse our flat .proto (one message per block, oneof blocks inline) into fields."""
    out: dict[str, list[tuple[bool, str, str, int]]] = {}
    current = None
    for line in text.splitlines():
        line = line.split("//")[0]
        head = re.match(r"^message (\w+) \{(.*)$", line.strip())
        if head:
            current = head.group(1)
            out[current] = []
            line = head.group(2)
        if current is None:
            continue
        line = re.sub(r"oneof \w+ \{", "", line)
        for part in line.split(";"):
            match = _FIELD.match(part + ";")
            if match:
                repeated, typ, name, number = match.groups()
                out[current].append((bool(repeated), typ, name, int(number)))
    return out


def _otlp_descriptors() -> dict[str, object]:
    """Every OTLP message reachable from the three requests, by simple name."""
    found: dict[str, object] = dict(_OTLP)
    stack = [d for d in _OTLP.values()]
    while stack:
        d = stack.pop()
        for f in d.fields:  # type: ignore[attr-defined]
            if f.message_type is not None and f.message_type.name not in found:
                found[f.message_type.name] = f.message_type
                stack.append(f.message_type)
    return found


OURS = _messages(ingest_proto_text())
OTLP = _otlp_descriptors()


@pytest.mark.parametrize("message", sorted(OURS))
def test_every_declared_field_matches_otlp_number_and_wire_type(message: str) -> None:
    descriptor = OTLP[message]
    by_name = {f.name: f for f in descriptor.fields}  # type: ignore[attr-defined]
    assert OURS[message], f"{message} parsed to no fields"
    for repeated, typ, name, number in OURS[message]:
        otlp_field = by_name[name]
        assert otlp_field.number == number, f"{message}.{name}"
        assert otlp_field.is_repeated == repeated, f"{message}.{name}"
        if typ in _PROTO_TYPES:
            assert otlp_field.type in _PROTO_TYPES[typ], f"{message}.{name}: {typ}"
        else:
            assert otlp_field.type == FieldDescriptor.TYPE_MESSAGE, f"{message}.{name}"


def test_the_three_request_messages_are_declared() -> None:
    assert {
        "ExportTraceServiceRequest",
        "ExportMetricsServiceRequest",
        "ExportLogsServiceRequest",
    } <= set(OURS)
