"""INSERT … SELECT statements that fill the ML tables from the same raw OTLP payloads.

They run beside the OTel-table statements of `ingest_sql` (same source, same dedup-token
scheme: one token per table), so an inference is stored exactly once like its span. Reading the
Protobuf again costs a second decode per batch, but keeps attribute *types*: the exporter's
`SpanAttributes` map has already turned 41.5 and "41.5" into the same string, and DESIGN §4
makes int/double/bool numerical and string categorical.

    spans with a model name  → ml_inferences (one row each)
                             → ml_features   (one row per ml.feature.*, ml.prediction,
                                              ml.prediction.score and token-count attribute)
    log records whose event name is `ml.label` → ml_labels
"""

from __future__ import annotations

from typing import Final

from driftline import semconv
from driftline.signals import Signal
from driftline.storage.ingest_sql import STATUS_CODES, IngestStatement

_SPAN_JOINS: Final = (
    "ARRAY JOIN resource_spans AS rs\nARRAY JOIN rs.scope_spans AS ss\nARRAY JOIN ss.spans AS s"
)
_LOG_JOINS: Final = (
    "ARRAY JOIN resource_logs AS rl\nARRAY JOIN rl.scope_logs AS sl\nARRAY JOIN sl.log_records AS r"
)
# Token counts under either vocabulary are stored under the GenAI names.
_TOKEN_ALIASES: Final = {
    semconv.INPUT_TOKEN_KEYS[1]: semconv.INPUT_TOKEN_KEYS[0],
    semconv.OUTPUT_TOKEN_KEYS[1]: semconv.OUTPUT_TOKEN_KEYS[0],
}


# What the ML statements decode: scalar attribute values and a span's identity, timing and
# status. Skipping events, links and array/kvlist values makes the second decode ~40 % cheaper.
_SCALAR_T: Final = (
    "Tuple(string_value Nullable(String), bool_value Nullable(UInt8), "
    "int_value Nullable(Int64), double_value Nullable(Float64))"
)
_SCALAR_KVS_T: Final = f"Array(Tuple(key String, value {_SCALAR_T}))"
SPANS_STRUCTURE: Final = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {_SCALAR_KVS_T}), "
    "scope_spans Array(Tuple(spans Array(Tuple(trace_id String, span_id String, name String, "
    "start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
    f"attributes {_SCALAR_KVS_T}, status Tuple(code Int32)))))))"
)
LOGS_STRUCTURE: Final = (
    "resource_logs Array(Tuple(scope_logs Array(Tuple(log_records Array(Tuple("
    "time_unix_nano UInt64, observed_time_unix_nano UInt64, "
    f"attributes {_SCALAR_KVS_T}, event_name String))))))"
)


def _q(text: str) -> str:
    """A SQL string literal for a constant we own (attribute keys), never for user data."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value(kvs: str, key: str) -> str:
    """The AnyValue tuple of `key` in a KeyValue array (all members NULL when absent)."""
    # indexOf over the key subcolumn, not arrayFirst with a lambda: several times faster, and
    # index 0 (absent) yields the default tuple, whose Nullable members are all NULL.
    return f"arrayElement({kvs}.value, indexOf({kvs}.key, {_q(key)}))"


def _text(value: str) -> str:
    """A scalar AnyValue as text ('' when absent), for identities such as model names."""
    return (
        f"multiIf({value}.string_value IS NOT NULL, {value}.string_value, "
        f"{value}.int_value IS NOT NULL, toString({value}.int_value), "
        f"{value}.double_value IS NOT NULL, toString({value}.double_value), "
        f"{value}.bool_value IS NOT NULL, if({value}.bool_value = 1, 'true', 'false'), '')"
    )


def _number(value: str) -> str:
    """A numerical AnyValue (double, int, bool as 0/1) as Float64; NaN otherwise."""
    return (
        f"multiIf({value}.double_value IS NOT NULL, {value}.double_value, "
        f"{value}.int_value IS NOT NULL, toFloat64({value}.int_value), "
        f"{value}.bool_value IS NOT NULL, toFloat64({value}.bool_value), nan)"
    )


def _first_text(candidates: list[tuple[str, str]]) -> str:
    """The first non-empty string value among (KeyValue array, key) candidates."""
    # Identities are strings by convention: reading only string_value keeps this cheap.
    parts = ", ".join(f"nullIf({_value(kvs, key)}.string_value, '')" for kvs, key in candidates)
    return f"coalesce({parts}, '')"


def _identity(span_keys: tuple[str, ...], resource_keys: tuple[str, ...]) -> str:
    span = [("s.attributes", key) for key in span_keys]
    return _first_text([*span, *(("rs.resource.attributes", key) for key in resource_keys)])


def _model_name() -> str:
    return _identity(semconv.MODEL_NAME_SPAN_KEYS, semconv.MODEL_NAME_RESOURCE_KEYS)


def _model_version() -> str:
    return _identity(semconv.MODEL_VERSION_SPAN_KEYS, semconv.MODEL_VERSION_RESOURCE_KEYS)


def _span_identity() -> list[tuple[str, str]]:
    return [
        ("Timestamp", "fromUnixTimestamp64Nano(toInt64(s.start_time_unix_nano))"),
        ("ModelName", "_model"),
        ("ModelVersion", _model_version()),
    ]


def _select(exprs: list[tuple[str, str]], prelude: str, joins: str, where: str) -> str:
    body = ",\n  ".join(f"{e} AS `{c}`" for c, e in exprs)
    # WITH aliases are substituted into the expressions, so they add no output columns.
    return f"WITH {prelude}\nSELECT {body}\nFROM {{source}}\n{joins}\nWHERE {where}"


def _statement(
    signal: Signal, table: str, exprs: list[tuple[str, str]], prelude: str, joins: str, where: str
) -> IngestStatement:
    structure = SPANS_STRUCTURE if signal is Signal.TRACES else LOGS_STRUCTURE
    return IngestStatement(
        signal, table, tuple(c for c, _ in exprs), _select(exprs, prelude, joins, where), structure
    )


def inferences_statement(table: str = "ml_inferences") -> IngestStatement:
    trace_id, span_id = "lower(hex(s.trace_id))", "lower(hex(s.span_id))"
    prediction = _value("s.attributes", semconv.ML_PREDICTION)
    exprs = [
        *_span_identity(),
        (
            "InferenceId",
            f"if(_id != '', _id, concat({trace_id}, '-', {span_id}))",
        ),
        ("TraceId", trace_id),
        ("SpanId", span_id),
        ("ServiceName", _text(_value("rs.resource.attributes", semconv.SERVICE_NAME))),
        ("SpanName", "s.name"),
        (
            "Duration",
            "if(s.end_time_unix_nano > s.start_time_unix_nano, "
            "s.end_time_unix_nano - s.start_time_unix_nano, 0)",
        ),
        ("StatusCode", f"arrayElement({STATUS_CODES}, s.status.code + 1)"),
        ("Prediction", _number(prediction)),
        ("PredictionClass", f"ifNull({prediction}.string_value, '')"),
        ("Score", _number(_value("s.attributes", semconv.ML_PREDICTION_SCORE))),
    ]
    prelude = (
        f"{_model_name()} AS _model, "
        f"{_text(_value('s.attributes', semconv.ML_INFERENCE_ID))} AS _id"
    )
    return _statement(Signal.TRACES, table, exprs, prelude, _SPAN_JOINS, "_model != ''")


def features_statement(table: str = "ml_features") -> IngestStatement:
    prefix = semconv.ML_FEATURE_PREFIX
    extra = [
        semconv.ML_PREDICTION,
        semconv.ML_PREDICTION_SCORE,
        *semconv.INPUT_TOKEN_KEYS,
        *semconv.OUTPUT_TOKEN_KEYS,
    ]
    keys = ", ".join(_q(k) for k in extra)
    wanted = (
        f"startsWith(kv.key, {_q(prefix)}) AND length(kv.key) > {len(prefix)} OR kv.key IN ({keys})"
    )
    scalar = (
        "a.value.string_value IS NOT NULL OR a.value.double_value IS NOT NULL "
        "OR a.value.int_value IS NOT NULL OR a.value.bool_value IS NOT NULL"
    )
    aliases = ", ".join(
        f"a.key = {_q(alias)}, {_q(name)}" for alias, name in _TOKEN_ALIASES.items()
    )
    columns = (
        "ModelName",
        "Feature",
        "Timestamp",
        "ModelVersion",
        "Kind",
        "Value",
        "Category",
    )
    # Two steps: spans are reduced to their few wanted attributes first, and only then joined
    # out to one row per attribute. A fourth ARRAY JOIN straight over the request would copy
    # every span's whole parent arrays into each attribute row (gigabytes for 50k spans).
    select = f"""SELECT _model AS ModelName,
  multiIf(startsWith(a.key, {_q(prefix)}), substring(a.key, {len(prefix) + 1}), {aliases}, a.key)
    AS Feature,
  _ts AS Timestamp,
  _version AS ModelVersion,
  if(a.value.string_value IS NOT NULL, 'categorical', 'numerical') AS Kind,
  {_number("a.value")} AS Value,
  ifNull(a.value.string_value, '') AS Category
FROM (
  WITH {_model_name()} AS _m
  SELECT _m AS _model,
    {_model_version()} AS _version,
    fromUnixTimestamp64Nano(toInt64(s.start_time_unix_nano)) AS _ts,
    arrayFilter(kv -> {wanted}, s.attributes) AS _wanted
  FROM {{source}}
  {_SPAN_JOINS.replace(chr(10), chr(10) + "  ")}
  WHERE _m != '' AND notEmpty(_wanted)
)
ARRAY JOIN _wanted AS a
WHERE {scalar}"""
    return IngestStatement(Signal.TRACES, table, columns, select, SPANS_STRUCTURE)


def labels_statement(table: str = "ml_labels") -> IngestStatement:
    label = _value("r.attributes", semconv.ML_LABEL)
    exprs = [
        ("ModelName", _text(_value("r.attributes", semconv.ML_MODEL_NAME))),
        ("InferenceId", "_id"),
        (
            "Timestamp",
            "fromUnixTimestamp64Nano(toInt64(if(r.time_unix_nano != 0, r.time_unix_nano, "
            "r.observed_time_unix_nano)))",
        ),
        ("Label", _number(label)),
        ("LabelClass", f"ifNull({label}.string_value, '')"),
        # RecordLabels marks its events; everything else came over OTLP.
        (
            "Source",
            f"ifNull(nullIf({_value('r.attributes', 'ml.label.source')}.string_value, ''), 'otlp')",
        ),
    ]
    event = _q(semconv.ML_LABEL_EVENT_NAME)
    prelude = (
        f"{_text(_value('r.attributes', semconv.ML_INFERENCE_ID))} AS _id, "
        f"(r.event_name = {event} OR "
        f"{_text(_value('r.attributes', semconv.EVENT_NAME))} = {event}) AS _is_label"
    )
    return _statement(Signal.LOGS, table, exprs, prelude, _LOG_JOINS, "_is_label AND _id != ''")


def ml_statements(signal: Signal) -> list[IngestStatement]:
    if signal is Signal.TRACES:
        return [inferences_statement(), features_statement()]
    if signal is Signal.LOGS:
        from driftline.storage.ingest_runs_sql import run_statements  # builds on this module

        return [labels_statement(), *run_statements()]
    return []
