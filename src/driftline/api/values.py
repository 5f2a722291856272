"""Python values from clickhouse-connect → `driftline.v1.Value`, chosen by the column's type.

    UInt8..UInt64                  uint64_value
    Int8..Int64                    int64_value
    Float32, Float64, BFloat16     double_value
    Bool                           bool_value
    String, FixedString, Enum      string_value   (bytes as UTF-8, other bytes as \\xNN)
    NULL of any type               null_value
    anything else                  json_value: JSON text. Map → object, Array/Tuple → array,
                                   named Tuple → object, DateTime/Date → ISO 8601 string,
                                   Decimal/UUID/IP → string, big integers → number

Columns whose values vary in kind (Variant, Dynamic, JSON) are converted by the Python value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import ipaddress
import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from driftline.api._gen.driftline.v1 import query_pb2
from driftline.query.sql import SqlResult, unwrap_type

Converter = Callable[[Any], query_pb2.Value]

_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_UINT64_MAX: Final = (1 << 64) - 1
_IP: Final = ipaddress.IPv4Address | ipaddress.IPv6Address
_NULL: Final = query_pb2.Value(null_value=True)
_NON_FINITE: Final = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # as JSON strings


def sql_response(result: SqlResult) -> query_pb2.SqlResponse:
    converters = [converter_for(column.type) for column in result.columns]
    response = query_pb2.SqlResponse(
        columns=[query_pb2.Column(name=c.name, type=c.type) for c in result.columns],
        truncated=result.truncated,
        rows_read=result.rows_read,
        elapsed_seconds=result.elapsed_s,
    )
    rows = response.rows
    for row in result.rows:
        rows.add().values.extend(
            _convert(convert, value) for convert, value in zip(converters, row, strict=True)
        )
    return response


def _convert(convert: Converter, value: Any) -> query_pb2.Value:
    if value is None:
        return _NULL
    try:
        return convert(value)
    except (TypeError, ValueError):  # a Python type the column's type did not lead us to expect
        return value_of(value)


def converter_for(type_name: str) -> Converter:
    """The converter for non-NULL values of a column of this ClickHouse type."""
    base = unwrap_type(type_name)
    if base in ("UInt8", "UInt16", "UInt32", "UInt64"):
        return lambda v: query_pb2.Value(uint64_value=v)
    if base in ("Int8", "Int16", "Int32", "Int64"):
        return lambda v: query_pb2.Value(int64_value=v)
    if base in ("Float32", "Float64", "BFloat16"):
        return lambda v: query_pb2.Value(double_value=v)
    if base == "Bool":
        return lambda v: query_pb2.Value(bool_value=v)
    if base == "String" or base.startswith(("FixedString(", "Enum8(", "Enum16(")):
        return lambda v: query_pb2.Value(string_value=_text(v))
    if base.startswith(("Variant(", "Dynamic")):
        return value_of
    return lambda v: query_pb2.Value(json_value=json_text(v))


def value_of(value: Any) -> query_pb2.Value:
    """Convert by the Python value alone."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return query_pb2.Value(bool_value=value)
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return query_pb2.Value(int64_value=value)
    if isinstance(value, int) and 0 <= value <= _UINT64_MAX:
        return query_pb2.Value(uint64_value=value)
    if isinstance(value, float):
        return query_pb2.Value(double_value=value)
    if isinstance(value, str | bytes):
        return query_pb2.Value(string_value=_text(value))
    return query_pb2.Value(json_value=json_text(value))


def json_text(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def jsonable(value: Any) -> Any:
    """A structure `json.dumps` accepts, keeping what can be kept exactly."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[str(value)]
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal | uuid.UUID | _IP):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def _key(key: Any) -> str:
    plain = jsonable(key)
    return plain if isinstance(plain, str) else json.dumps(plain, separators=(",", ":"))


def _text(value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    return value.decode("utf-8", "backslashreplace")
