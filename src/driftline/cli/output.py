"""Printing query results: an aligned table for people, one JSON object for programs.

Every `--json` of the CLI goes through this module:

message_json(m)   any response message as one JSON object with EVERY field of its type —
         false, zero, empty strings, lists and maps included (proto3 JSON would drop them) —
         int64/uint64 as JSON numbers (proto3 JSON makes them strings), enums by name, an unset
         `optional` field or sub-message as null, NaN/±Infinity as "NaN"/"Infinity"/"-Infinity"
         strings (JSON has no such numbers). Field names as in the .proto.
json_document(r)  a Sql response:
         {"columns": [{"name": ..., "type": ...}, ...], "rows": [[...], ...], "truncated": b}
         cells as JSON values: numbers, strings, true/false, null; Map/Array/Tuple as
         objects and arrays; DateTime and Decimal as strings; NaN/±Infinity as strings.
table    header, a rule, one line per row; numbers right-aligned, NULL as `NULL`, long
         cells cut at MAX_CELL_WIDTH with `…`, newlines and tabs shown as \\n and \\t.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from driftline.api._gen.driftline.v1 import query_pb2

MAX_CELL_WIDTH: Final = 60
NULL_TEXT: Final = "NULL"
_NON_FINITE: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def python_value(value: query_pb2.Value) -> Any:
    """The cell as a Python value: json_value decoded, NULL as None."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "json_value":
        return json.loads(value.json_value)
    return getattr(value, kind)


def message_dict(message: Message) -> dict[str, Any]:
    """The message as a dict of every field (see the module docstring)."""
    out: dict[str, Any] = {}
    field: Any  # the descriptor stubs do not type upb's descriptors
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and not _synthetic(field):
            if message.WhichOneof(oneof.name) == field.name:
                out[field.name] = _field_value(field, getattr(message, field.name))
            continue
        value = getattr(message, field.name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {str(k): _field_value(value_field, value[k]) for k in sorted(value)}
        elif field.is_repeated:
            out[field.name] = [_field_value(field, v) for v in value]
        elif field.has_presence and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _field_value(field, value)
    return out


def message_json(message: Message, *, indent: int | None = 2) -> str:
    """`message_dict` as JSON text (UTF-8 kept, never NaN literals)."""
    return json.dumps(message_dict(message), ensure_ascii=False, allow_nan=False, indent=indent)


def print_message(message: Message) -> None:
    print(message_json(message))


def _synthetic(field: Any) -> bool:
    """A proto3 `optional` field lives in a synthetic oneof of its own."""
    oneof = field.containing_oneof
    return oneof is not None and oneof.name == f"_{field.name}" and len(oneof.fields) == 1


def _is_map(field: Any) -> bool:
    return bool(
        field.is_repeated
        and field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type.GetOptions().map_entry
    )


def _field_value(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        described = field.enum_type.values_by_number.get(value)
        return described.name if described is not None else value
    if field.type == FieldDescriptor.TYPE_BYTES:
        import base64

        return base64.b64encode(value).decode("ascii")
    return _finite(value)


def json_document(response: query_pb2.SqlResponse) -> str:
    document = {
        "columns": [{"name": c.name, "type": c.type} for c in response.columns],
        "rows": [[_finite(python_value(v)) for v in row.values] for row in response.rows],
        "truncated": response.truncated,
    }
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def table(response: query_pb2.SqlResponse) -> str:
    """The rows as aligned text; empty when there are no columns."""
    header = [c.name for c in response.columns]
    if not header:
        return ""
    cells = [[_cell_text(v) for v in row.values] for row in response.rows]
    numeric = [_is_numeric_column(response.rows, i) for i in range(len(header))]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    lines = [
        _line(header, widths, [False] * len(header)),
        "  ".join("-" * w for w in widths),
        *(_line(row, widths, numeric) for row in cells),
    ]
    return "\n".join(lines)


def summary(response: query_pb2.SqlResponse) -> str:
    """`3 rows in 0.012 s, 10 rows read` plus a note when more rows existed."""
    n = len(response.rows)
    text = (
        f"{n} row{'' if n == 1 else 's'} in {response.elapsed_seconds:.3f} s, "
        f"{response.rows_read} rows read"
    )
    if response.truncated:
        text += f"; truncated at {n} rows (more exist: narrow the query or raise --max-rows)"
    return text


def number_text(x: float) -> str:
    """A float for people: 12 significant digits, so binary noise (12.38266743000001) goes
    while every digit a user wrote or a count stays; integers without `.0`."""
    if not math.isfinite(x):
        return _NON_FINITE[repr(x)]
    return f"{x:.12g}"


def _line(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)]
    return "  ".join(parts).rstrip()


def _cell_text(value: query_pb2.Value) -> str:
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return NULL_TEXT
    if kind == "json_value":
        decoded = json.loads(value.json_value)
        text = decoded if isinstance(decoded, str) else value.json_value
    elif kind == "bool_value":
        text = "true" if value.bool_value else "false"
    elif kind == "double_value":
        text = number_text(value.double_value)
    else:
        text = str(getattr(value, kind))
    text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return text if len(text) <= MAX_CELL_WIDTH else text[: MAX_CELL_WIDTH - 1] + "…"


def _is_numeric_column(rows: Sequence[query_pb2.Row], index: int) -> bool:
    kinds = {row.values[index].WhichOneof("kind") for row in rows} - {"null_value"}
    return bool(kinds) and kinds <= {"int64_value", "uint64_value", "double_value"}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE[repr(value)]
    return value


def print_response(response: query_pb2.SqlResponse, *, as_json: bool) -> None:
    """The table on stdout and a summary on stderr, or one JSON object (`--json`)."""
    if as_json:
        print(json_document(response))
        return
    text = table(response)
    if text:
        print(text)
    print(summary(response), file=sys.stderr)
