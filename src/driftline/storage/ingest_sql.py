"""INSERT … SELECT statements that let ClickHouse decode and flatten raw OTLP requests.

The sink hands ClickHouse a batch of WAL payloads (serialized Export*ServiceRequest messages,
length-delimited = ClickHouse's `Protobuf` format) and one statement per target table:

    INSERT INTO otel_traces (cols…)
    SELECT <column expressions> FROM <source>
    ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s

`<source>` is `file('<batch file>', 'Protobuf', '<structure>')` on the embedded engine and
`input('<structure>')` with the bytes as the request body on a server; the schema text travels
in the `format_schema` setting (`format_schema_source='string'`), so a server needs no schema
files installed. Every value the contrib clickhouseexporter writes is computed here in SQL:
hex ids, `Duration = end - start`, span kind / status strings, `ServiceName` from the resource,
attribute values flattened to strings (arrays and maps as JSON) and attribute maps sorted.

`Nullable` members of the AnyValue tuple are how presence is read: a oneof member that was set
is always on the wire, so `int_value = 0` is distinguishable from "not an int".
"""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Final

from driftline.signals import Signal
from driftline.storage.ingest_base import SPAN_JOINS, SPAN_KINDS, STATUS_CODES, IngestStatement

# ---- structures (the columns ClickHouse decodes from the Protobuf messages) ----------------

_LEAF_T: Final = (
    "Tuple(string_value Nullable(String), bool_value Nullable(UInt8), "
    "int_value Nullable(Int64), double_value Nullable(Float64), bytes_value Nullable(String))"
)
_ANY_T: Final = (
    "Tuple(string_value Nullable(String), bool_value Nullable(UInt8), "
    "int_value Nullable(Int64), double_value Nullable(Float64), bytes_value Nullable(String), "
    f"array_value Tuple(values Array({_LEAF_T})), "
    f"kvlist_value Tuple(values Array(Tuple(key String, value {_LEAF_T}))))"
)
_KVS_T: Final = f"Array(Tuple(key String, value {_ANY_T}))"
RESOURCE_T: Final = f"Tuple(attributes {_KVS_T})"
SCOPE_T: Final = (
    f"Tuple(name String, version String, attributes {_KVS_T}, dropped_attributes_count UInt32)"
)
_EXEMPLARS_T: Final = (
    f"Array(Tuple(filtered_attributes {_KVS_T}, time_unix_nano UInt64, "
    "as_double Nullable(Float64), as_int Nullable(Int64), span_id String, trace_id String))"
)
SPAN_T: Final = (
    "Tuple(trace_id String, span_id String, trace_state String, parent_span_id String, "
    "flags UInt32, name String, kind Int32, start_time_unix_nano UInt64, "
    f"end_time_unix_nano UInt64, attributes {_KVS_T}, "
    f"events Array(Tuple(time_unix_nano UInt64, name String, attributes {_KVS_T})), "
    f"links Array(Tuple(trace_id String, span_id String, trace_state String, attributes {_KVS_T})), "
    "status Tuple(message String, code Int32))"
)
_NUMBER_POINT_T: Final = (
    f"Tuple(attributes {_KVS_T}, start_time_unix_nano UInt64, time_unix_nano UInt64, "
    f"as_double Nullable(Float64), as_int Nullable(Int64), exemplars {_EXEMPLARS_T}, flags UInt32)"
)
_HISTOGRAM_POINT_T: Final = (
    f"Tuple(attributes {_KVS_T}, start_time_unix_nano UInt64, time_unix_nano UInt64, "
    "count UInt64, sum Float64, bucket_counts Array(UInt64), explicit_bounds Array(Float64), "
    f"exemplars {_EXEMPLARS_T}, flags UInt32, min Float64, max Float64)"
)
_EXP_HISTOGRAM_POINT_T: Final = (
    f"Tuple(attributes {_KVS_T}, start_time_unix_nano UInt64, time_unix_nano UInt64, "
    "count UInt64, sum Float64, scale Int32, zero_count UInt64, "
    "positive Tuple(offset Int32, bucket_counts Array(UInt64)), "
    "negative Tuple(offset Int32, bucket_counts Array(UInt64)), "
    f"flags UInt32, exemplars {_EXEMPLARS_T}, min Float64, max Float64)"
)
_SUMMARY_POINT_T: Final = (
    f"Tuple(attributes {_KVS_T}, start_time_unix_nano UInt64, time_unix_nano UInt64, "
    "count UInt64, sum Float64, quantile_values Array(Tuple(quantile Float64, value Float64)), "
    "flags UInt32)"
)
_METRIC_T: Final = (
    "Tuple(name String, description String, unit String, "
    f"gauge Tuple(data_points Array({_NUMBER_POINT_T})), "
    f"sum Tuple(data_points Array({_NUMBER_POINT_T}), aggregation_temporality Int32, "
    "is_monotonic UInt8), "
    f"histogram Tuple(data_points Array({_HISTOGRAM_POINT_T}), aggregation_temporality Int32), "
    f"exponential_histogram Tuple(data_points Array({_EXP_HISTOGRAM_POINT_T}), "
    "aggregation_temporality Int32), "
    f"summary Tuple(data_points Array({_SUMMARY_POINT_T})))"
)
_LOG_T: Final = (
    "Tuple(time_unix_nano UInt64, observed_time_unix_nano UInt64, severity_number Int32, "
    f"severity_text String, body {_ANY_T}, attributes {_KVS_T}, flags UInt32, "
    "trace_id String, span_id String, event_name String)"
)

STRUCTURES: Final[dict[Signal, str]] = {
    Signal.TRACES: (
        f"resource_spans Array(Tuple(resource {RESOURCE_T}, schema_url String, "
        f"scope_spans Array(Tuple(scope {SCOPE_T}, schema_url String, spans Array({SPAN_T})))))"
    ),
    Signal.METRICS: (
        f"resource_metrics Array(Tuple(resource {RESOURCE_T}, schema_url String, "
        f"scope_metrics Array(Tuple(scope {SCOPE_T}, schema_url String, "
        f"metrics Array({_METRIC_T})))))"
    ),
    Signal.LOGS: (
        f"resource_logs Array(Tuple(resource {RESOURCE_T}, schema_url String, "
        f"scope_logs Array(Tuple(scope {SCOPE_T}, schema_url String, log_records Array({_LOG_T})))))"
    ),
}
MESSAGE_NAMES: Final[dict[Signal, str]] = {
    Signal.TRACES: "ExportTraceServiceRequest",
    Signal.METRICS: "ExportMetricsServiceRequest",
    Signal.LOGS: "ExportLogsServiceRequest",
}


def ingest_proto_text() -> str:
    """The .proto schema ClickHouse decodes WAL payloads with (sent inline as a setting)."""
    return (resources.files("driftline.storage") / "proto" / "otlp_ingest.proto").read_text()


# ---- expression builders -------------------------------------------------------------------

_names = itertools.count()


def _var() -> str:
    return f"x{next(_names)}"


def _scalar_cases(v: str, *, json: bool) -> str:
    """multiIf arms for a value tuple's scalar members (as the Go exporter's AsString)."""
    string = f"toJSONString({v}.string_value)" if json else f"{v}.string_value"
    b64 = f"base64Encode({v}.bytes_value)"
    return (
        f"{v}.string_value IS NOT NULL, {string}, "
        f"{v}.bool_value IS NOT NULL, if({v}.bool_value = 1, 'true', 'false'), "
        f"{v}.int_value IS NOT NULL, toString({v}.int_value), "
        f"{v}.double_value IS NOT NULL, toString({v}.double_value), "
        f"{v}.bytes_value IS NOT NULL, {'toJSONString(' + b64 + ')' if json else b64}"
    )


def _leaf_json(v: str) -> str:
    return f"multiIf({_scalar_cases(v, json=True)}, 'null')"


def any_to_string(v: str) -> str:
    """SQL for an AnyValue tuple rendered as the exporter does: scalars as text, arrays and
    key-value lists as JSON, an unset value as ''."""
    a, kv = _var(), _var()
    array_json = (
        f"concat('[', arrayStringConcat(arrayMap({a} -> {_leaf_json(a)}, "
        f"{v}.array_value.values), ','), ']')"
    )
    kvlist_json = (
        f"concat('{{', arrayStringConcat(arrayMap({kv} -> concat(toJSONString({kv}.key), ':', "
        f"{_leaf_json(kv + '.value')}), {v}.kvlist_value.values), ','), '}}')"
    )
    return (
        f"multiIf({_scalar_cases(v, json=False)}, "
        f"notEmpty({v}.array_value.values), {array_json}, "
        f"notEmpty({v}.kvlist_value.values), {kvlist_json}, '')"
    )


def attributes_map(kvs: str) -> str:
    """SQL turning a KeyValue array into the exporter's sorted Map(LowCardinality(String), String)."""
    k, kv = _var(), _var()
    return (
        f"mapSort(CAST((arrayMap({k} -> {k}.key, {kvs}), "
        f"arrayMap({kv} -> {any_to_string(kv + '.value')}, {kvs})), "
        "'Map(LowCardinality(String), String)'))"
    )


def _ns(expr: str) -> str:
    return f"fromUnixTimestamp64Nano(toInt64({expr}))"


def _hex(expr: str) -> str:
    return f"lower(hex({expr}))"


def _exemplar_columns(points: str, prefix: str = "Exemplars") -> list[tuple[str, str]]:
    e = _var()
    ex = f"{points}.exemplars"
    return [
        (f"{prefix}.FilteredAttributes", f"arrayMap({e} -> {attributes_map(e + '.filtered_attributes')}, {ex})"),
        (f"{prefix}.TimeUnix", f"arrayMap({e} -> {_ns(e + '.time_unix_nano')}, {ex})"),
        (f"{prefix}.Value", f"arrayMap({e} -> ifNull({e}.as_double, toFloat64(ifNull({e}.as_int, 0))), {ex})"),
        (f"{prefix}.SpanId", f"arrayMap({e} -> {_hex(e + '.span_id')}, {ex})"),
        (f"{prefix}.TraceId", f"arrayMap({e} -> {_hex(e + '.trace_id')}, {ex})"),
    ]  # fmt: skip


# ---- per-table statements ------------------------------------------------------------------


def _statement(
    signal: Signal, table: str, exprs: list[tuple[str, str]], joins: str
) -> IngestStatement:
    select = (
        "SELECT " + ",\n  ".join(f"{e} AS `{c}`" for c, e in exprs) + "\nFROM {source}\n" + joins
    )
    return IngestStatement(signal, table, tuple(c for c, _ in exprs), select)


def _resource_scope_columns(rs: str, sc: str, *, metrics: bool) -> list[tuple[str, str]]:
    cols = [("ResourceAttributes", attributes_map(f"{rs}.resource.attributes"))]
    if metrics:
        cols += [
            ("ResourceSchemaUrl", f"{rs}.schema_url"),
            ("ScopeName", f"{sc}.scope.name"),
            ("ScopeVersion", f"{sc}.scope.version"),
            ("ScopeAttributes", attributes_map(f"{sc}.scope.attributes")),
            ("ScopeDroppedAttrCount", f"{sc}.scope.dropped_attributes_count"),
            ("ScopeSchemaUrl", f"{sc}.schema_url"),
            ("ServiceName", "ResourceAttributes['service.name']"),
        ]
    return cols


def traces_statement(table: str = "otel_traces", joins: str = SPAN_JOINS) -> IngestStatement:
    """`joins` = '' reads per-span rows (columns rs, ss, s) instead: the staging table's view."""
    s = "s"
    ev, ln = _var(), _var()
    exprs = [
        ("Timestamp", _ns(f"{s}.start_time_unix_nano")),
        ("TraceId", _hex(f"{s}.trace_id")),
        ("SpanId", _hex(f"{s}.span_id")),
        ("ParentSpanId", _hex(f"{s}.parent_span_id")),
        ("TraceState", f"{s}.trace_state"),
        ("SpanName", f"{s}.name"),
        ("SpanKind", f"arrayElement({SPAN_KINDS}, {s}.kind + 1)"),
        ("ResourceAttributes", attributes_map("rs.resource.attributes")),
        ("ServiceName", "ResourceAttributes['service.name']"),
        ("ScopeName", "ss.scope.name"),
        ("ScopeVersion", "ss.scope.version"),
        ("SpanAttributes", attributes_map(f"{s}.attributes")),
        ("Duration", f"if({s}.end_time_unix_nano > {s}.start_time_unix_nano, "
                     f"{s}.end_time_unix_nano - {s}.start_time_unix_nano, 0)"),
        ("StatusCode", f"arrayElement({STATUS_CODES}, {s}.status.code + 1)"),
        ("StatusMessage", f"{s}.status.message"),
        ("Events.Timestamp", f"arrayMap({ev} -> {_ns(ev + '.time_unix_nano')}, {s}.events)"),
        ("Events.Name", f"arrayMap({ev} -> {ev}.name, {s}.events)"),
        ("Events.Attributes", f"arrayMap({ev} -> {attributes_map(ev + '.attributes')}, {s}.events)"),
        ("Links.TraceId", f"arrayMap({ln} -> {_hex(ln + '.trace_id')}, {s}.links)"),
        ("Links.SpanId", f"arrayMap({ln} -> {_hex(ln + '.span_id')}, {s}.links)"),
        ("Links.TraceState", f"arrayMap({ln} -> {ln}.trace_state, {s}.links)"),
        ("Links.Attributes", f"arrayMap({ln} -> {attributes_map(ln + '.attributes')}, {s}.links)"),
    ]  # fmt: skip
    return _statement(Signal.TRACES, table, exprs, joins)


def logs_statement(table: str = "otel_logs") -> IngestStatement:
    r = "r"
    exprs = [
        ("Timestamp", _ns(f"if({r}.time_unix_nano != 0, {r}.time_unix_nano, {r}.observed_time_unix_nano)")),
        ("TraceId", _hex(f"{r}.trace_id")),
        ("SpanId", _hex(f"{r}.span_id")),
        ("TraceFlags", f"toUInt8(bitAnd({r}.flags, 255))"),
        ("SeverityText", f"{r}.severity_text"),
        ("SeverityNumber", f"toUInt8(greatest(least({r}.severity_number, 255), 0))"),
        ("ResourceAttributes", attributes_map("rl.resource.attributes")),
        ("ServiceName", "ResourceAttributes['service.name']"),
        ("Body", any_to_string(f"{r}.body")),
        ("ResourceSchemaUrl", "rl.schema_url"),
        ("ScopeSchemaUrl", "sl.schema_url"),
        ("ScopeName", "sl.scope.name"),
        ("ScopeVersion", "sl.scope.version"),
        ("ScopeAttributes", attributes_map("sl.scope.attributes")),
        ("LogAttributes", attributes_map(f"{r}.attributes")),
        ("EventName", f"{r}.event_name"),
    ]  # fmt: skip
    joins = (
        "ARRAY JOIN resource_logs AS rl\nARRAY JOIN rl.scope_logs AS sl\n"
        "ARRAY JOIN sl.log_records AS r"
    )
    return _statement(Signal.LOGS, table, exprs, joins)


def _metric_statement(
    table: str, kind: str, point_columns: list[tuple[str, str]]
) -> IngestStatement:
    exprs = [
        *_resource_scope_columns("rm", "sm", metrics=True),
        ("MetricName", "m.name"),
        ("MetricDescription", "m.description"),
        ("MetricUnit", "m.unit"),
        ("Attributes", attributes_map("p.attributes")),
        ("StartTimeUnix", _ns("p.start_time_unix_nano")),
        ("TimeUnix", _ns("p.time_unix_nano")),
        *point_columns,
    ]
    joins = (
        "ARRAY JOIN resource_metrics AS rm\nARRAY JOIN rm.scope_metrics AS sm\n"
        f"ARRAY JOIN sm.metrics AS m\nARRAY JOIN m.{kind}.data_points AS p"
    )
    return _statement(Signal.METRICS, table, exprs, joins)


def metric_statements(prefix: str = "otel_metrics") -> list[IngestStatement]:
    number_value = ("Value", "ifNull(p.as_double, toFloat64(ifNull(p.as_int, 0)))")
    flags = ("Flags", "p.flags")
    temporality = ("AggregationTemporality", "m.{kind}.aggregation_temporality")
    return [
        _metric_statement(f"{prefix}_gauge", "gauge", [number_value, flags, *_exemplar_columns("p")]),
        _metric_statement(f"{prefix}_sum", "sum", [
            number_value, flags, *_exemplar_columns("p"),
            (temporality[0], temporality[1].format(kind="sum")),
            ("IsMonotonic", "m.sum.is_monotonic = 1"),
        ]),
        _metric_statement(f"{prefix}_histogram", "histogram", [
            ("Count", "p.count"), ("Sum", "p.sum"),
            ("BucketCounts", "p.bucket_counts"), ("ExplicitBounds", "p.explicit_bounds"),
            *_exemplar_columns("p"), flags, ("Min", "p.min"), ("Max", "p.max"),
            (temporality[0], temporality[1].format(kind="histogram")),
        ]),
        _metric_statement(f"{prefix}_exponential_histogram", "exponential_histogram", [
            ("Count", "p.count"), ("Sum", "p.sum"), ("Scale", "p.scale"),
            ("ZeroCount", "p.zero_count"),
            ("PositiveOffset", "p.positive.offset"),
            ("PositiveBucketCounts", "p.positive.bucket_counts"),
            ("NegativeOffset", "p.negative.offset"),
            ("NegativeBucketCounts", "p.negative.bucket_counts"),
            *_exemplar_columns("p"), flags, ("Min", "p.min"), ("Max", "p.max"),
            (temporality[0], temporality[1].format(kind="exponential_histogram")),
        ]),
        _metric_statement(f"{prefix}_summary", "summary", [
            ("Count", "p.count"), ("Sum", "p.sum"),
            ("ValueAtQuantiles.Quantile", "arrayMap(q -> q.quantile, p.quantile_values)"),
            ("ValueAtQuantiles.Value", "arrayMap(q -> q.value, p.quantile_values)"),
            flags,
        ]),
    ]  # fmt: skip
