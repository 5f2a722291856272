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
from driftline.storage.ingest_base import (
    LOG_JOINS,
    SCALAR_KVS_T,
    SPAN_JOINS,
    STATUS_CODES,
    IngestStatement,
    as_number,
    as_text,
    attr,
    literal,
)

# Token counts under either vocabulary are stored under the GenAI names.
_TOKEN_ALIASES: Final = {
    semconv.INPUT_TOKEN_KEYS[1]: semconv.INPUT_TOKEN_KEYS[0],
    semconv.OUTPUT_TOKEN_KEYS[1]: semconv.OUTPUT_TOKEN_KEYS[0],
}


# What the ML statements decode: scalar attribute values and a span's identity, timing and
# status. Skipping events, links and array/kvlist values makes the second decode ~40 % cheaper.
SPANS_STRUCTURE: Final = (
    f"resource_spans Array(Tuple(resource Tuple(attributes {SCALAR_KVS_T}), "
    "scope_spans Array(Tuple(spans Array(Tuple(trace_id String, span_id String, name String, "
    "start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
    f"attributes {SCALAR_KVS_T}, status Tuple(code Int32)))))))"
)
LOGS_STRUCTURE: Final = (
    "resource_logs Array(Tuple(scope_logs Array(Tuple(log_records Array(Tuple("
    "time_unix_nano UInt64, observed_time_unix_nano UInt64, "
    f"attributes {SCALAR_KVS_T}, event_name String))))))"
)


def _first_text(candidates: list[tuple[str, str]]) -> str:
    """The first non-empty string value among (KeyValue array, key) candidates."""
    # Identities are strings by convention: reading only string_value keeps this cheap.
    parts = ", ".join(f"nullIf({attr(kvs, key)}.string_value, '')" for kvs, key in candidates)
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


def inferences_statement(table: str = "ml_inferences", joins: str = SPAN_JOINS) -> IngestStatement:
    """`joins` = '' reads per-span rows (columns rs, ss, s) instead: the staging table's view."""
    trace_id, span_id = "lower(hex(s.trace_id))", "lower(hex(s.span_id))"
    prediction = attr("s.attributes", semconv.ML_PREDICTION)
    exprs = [
        *_span_identity(),
        (
            "InferenceId",
            f"if(_id != '', _id, concat({trace_id}, '-', {span_id}))",
        ),
        ("TraceId", trace_id),
        ("SpanId", span_id),
        (
            "ServiceName",
            as_text(attr("rs.resource.attributes", semconv.SERVICE_NAME)),
        ),
        ("SpanName", "s.name"),
        (
            "Duration",
            "if(s.end_time_unix_nano > s.start_time_unix_nano, "
            "s.end_time_unix_nano - s.start_time_unix_nano, 0)",
        ),
        ("StatusCode", f"arrayElement({STATUS_CODES}, s.status.code + 1)"),
        ("Prediction", as_number(prediction)),
        ("PredictionClass", f"ifNull({prediction}.string_value, '')"),
        ("Score", as_number(attr("s.attributes", semconv.ML_PREDICTION_SCORE))),
    ]
    prelude = (
        f"{_model_name()} AS _model, "
        f"{as_text(attr('s.attributes', semconv.ML_INFERENCE_ID))} AS _id"
    )
    return _statement(Signal.TRACES, table, exprs, prelude, joins, "_model != ''")


def features_statement(table: str = "ml_features", joins: str = SPAN_JOINS) -> IngestStatement:
    prefix = semconv.ML_FEATURE_PREFIX
    extra = [
        semconv.ML_PREDICTION,
        semconv.ML_PREDICTION_SCORE,
        *semconv.INPUT_TOKEN_KEYS,
        *semconv.OUTPUT_TOKEN_KEYS,
    ]
    keys = ", ".join(literal(k) for k in extra)
    pre = literal(prefix)
    wanted = f"startsWith(kv.key, {pre}) AND length(kv.key) > {len(prefix)} OR kv.key IN ({keys})"
    scalar = (
        "a.value.string_value IS NOT NULL OR a.value.double_value IS NOT NULL "
        "OR a.value.int_value IS NOT NULL OR a.value.bool_value IS NOT NULL"
    )
    aliases = ", ".join(
        f"a.key = {literal(alias)}, {literal(name)}" for alias, name in _TOKEN_ALIASES.items()
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
  multiIf(startsWith(a.key, {pre}), substring(a.key, {len(prefix) + 1}), {aliases}, a.key)
    AS Feature,
  _ts AS Timestamp,
  _version AS ModelVersion,
  if(a.value.string_value IS NOT NULL, 'categorical', 'numerical') AS Kind,
  {as_number("a.value")} AS Value,
  ifNull(a.value.string_value, '') AS Category
FROM (
  WITH {_model_name()} AS _m
  SELECT _m AS _model,
    {_model_version()} AS _version,
    fromUnixTimestamp64Nano(toInt64(s.start_time_unix_nano)) AS _ts,
    arrayFilter(kv -> {wanted}, s.attributes) AS _wanted
  FROM {{source}}
  {joins.replace(chr(10), chr(10) + "  ")}
  WHERE _m != '' AND notEmpty(_wanted)
)
ARRAY JOIN _wanted AS a
WHERE {scalar}"""
    return IngestStatement(Signal.TRACES, table, columns, select, SPANS_STRUCTURE)


def labels_statement(table: str = "ml_labels") -> IngestStatement:
    label = attr("r.attributes", semconv.ML_LABEL)
    exprs = [
        ("ModelName", as_text(attr("r.attributes", semconv.ML_MODEL_NAME))),
        ("InferenceId", "_id"),
        (
            "Timestamp",
            "fromUnixTimestamp64Nano(toInt64(if(r.time_unix_nano != 0, r.time_unix_nano, "
            "r.observed_time_unix_nano)))",
        ),
        ("Label", as_number(label)),
        ("LabelClass", f"ifNull({label}.string_value, '')"),
        # RecordLabels marks its events; everything else came over OTLP.
        (
            "Source",
            f"ifNull(nullIf({attr('r.attributes', 'ml.label.source')}.string_value, ''), 'otlp')",
        ),
    ]
    event = literal(semconv.ML_LABEL_EVENT_NAME)
    prelude = (
        f"{as_text(attr('r.attributes', semconv.ML_INFERENCE_ID))} AS _id, "
        f"(r.event_name = {event} OR "
        f"{as_text(attr('r.attributes', semconv.EVENT_NAME))} = {event}) AS _is_label"
    )
    return _statement(Signal.LOGS, table, exprs, prelude, LOG_JOINS, "_is_label AND _id != ''")


def ml_statements(signal: Signal) -> list[IngestStatement]:
    if signal is Signal.TRACES:
        return [inferences_statement(), features_statement()]
    if signal is Signal.LOGS:
        return [labels_statement()]
    return []
