"""MLflow writes as OTLP log events: the bytes driftline.mlflow appends to the WAL.

Pure: no I/O. Each write of the tracking API becomes one ExportLogsServiceRequest whose
records follow the run conventions the SDK uses (semconv `ml.run.*`, docs/conventions.md), so
the ClickHouse sink stores them with the same statements, exactly once, and the OTLP
forwarders see them like any training job's events:

    CreateRun        ml.run.start (+ ml.run.tags)        experiment name and id, artifact uri
    UpdateRun        ml.run.update                       status, name; timestamp = end time
    Delete/Restore   ml.run.delete / ml.run.restore
    LogParam/Batch   ml.run.params                       ml.run.param.<key>
    SetTag/Batch     ml.run.tags                         ml.run.tag.<key>
    DeleteTag        ml.run.tags_delete                  ml.run.tag.<key> = ''
    LogMetric/Batch  ml.run.metrics, one per (step, timestamp)   ml.run.metric.<key>
    LogInputs        ml.run.input, one per dataset       ml.run.input.*
    artifact upload  ml.run.artifact                     uri, path, size, sha256
    experiments      ml.experiment.*                     id, name, artifact location, tags
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from driftline import semconv

SERVICE_NAME: Final = "mlflow"  # ServiceName of the rows MLflow clients wrote
SCOPE_NAME: Final = "driftline.mlflow"
_INFO: Final = SeverityNumber.SEVERITY_NUMBER_INFO


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    value: float
    timestamp_ms: int
    step: int


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: Mapping[str, str]


def _value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def _record(event: str, ts_ns: int, attributes: Iterable[tuple[str, Any]]) -> LogRecord:
    attrs = [KeyValue(key=semconv.EVENT_NAME, value=AnyValue(string_value=event))]
    attrs.extend(KeyValue(key=k, value=_value(v)) for k, v in attributes)
    return LogRecord(
        time_unix_nano=ts_ns, observed_time_unix_nano=ts_ns, severity_number=_INFO,
        severity_text="INFO", event_name=event, attributes=attrs,
    )  # fmt: skip


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(tag: int, body: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return bytes([tag << 3 | 2]) + _varint(len(body)) + body


_RESOURCE: Final = Resource(
    attributes=[KeyValue(key=semconv.SERVICE_NAME, value=AnyValue(string_value=SERVICE_NAME))]
).SerializeToString()
_SCOPE: Final = InstrumentationScope(name=SCOPE_NAME).SerializeToString()


def request(records: Sequence[LogRecord]) -> bytes:
    """The WAL payload: an ExportLogsServiceRequest of one resource (service.name = mlflow),
    one scope and the records. Composed from the serialized records (field 2 of ScopeLogs),
    which spares copying a log_batch's thousand attributes into a new message."""
    scope_logs = _field(1, _SCOPE) + b"".join(_field(2, r.SerializeToString()) for r in records)
    resource_logs = _field(1, _RESOURCE) + _field(2, scope_logs)
    return _field(1, resource_logs)


def parse(payload: bytes) -> ExportLogsServiceRequest:
    """The request `request` encoded (tests, tools)."""
    return ExportLogsServiceRequest.FromString(payload)


# ---- runs ----------------------------------------------------------------------------------------


def _run(run_id: str, event: str, ts_ns: int, attrs: Iterable[tuple[str, Any]] = ()) -> LogRecord:
    return _record(event, ts_ns, [(semconv.ML_RUN_ID, run_id), *attrs])


def run_start(
    run_id: str, ts_ns: int, *, experiment_id: str, experiment_name: str, run_name: str,
    user_id: str, artifact_uri: str,
) -> LogRecord:  # fmt: skip
    return _run(
        run_id, semconv.ML_RUN_START, ts_ns,
        [
            (semconv.ML_RUN_EXPERIMENT, experiment_name),
            (semconv.ML_RUN_EXPERIMENT_ID, experiment_id),
            (semconv.ML_RUN_NAME, run_name),
            (semconv.ML_RUN_USER, user_id),
            (semconv.ML_RUN_STATUS, semconv.RUN_RUNNING),
            (semconv.ML_RUN_ARTIFACT_ROOT, artifact_uri),
        ],
    )  # fmt: skip


def run_update(run_id: str, ts_ns: int, *, status: str, run_name: str) -> LogRecord:
    attrs: list[tuple[str, Any]] = []
    if status:
        attrs.append((semconv.ML_RUN_STATUS, status))
    if run_name:
        attrs.append((semconv.ML_RUN_NAME, run_name))
    return _run(run_id, semconv.ML_RUN_UPDATE, ts_ns, attrs)


def run_lifecycle(run_id: str, ts_ns: int, *, deleted: bool) -> LogRecord:
    return _run(run_id, semconv.ML_RUN_DELETE if deleted else semconv.ML_RUN_RESTORE, ts_ns)


def run_params(run_id: str, ts_ns: int, params: Mapping[str, str]) -> LogRecord:
    attrs = ((semconv.ML_RUN_PARAM_PREFIX + k, v) for k, v in params.items())
    return _run(run_id, semconv.ML_RUN_PARAMS, ts_ns, attrs)


def run_tags(run_id: str, ts_ns: int, tags: Mapping[str, str]) -> LogRecord:
    attrs = ((semconv.ML_RUN_TAG_PREFIX + k, v) for k, v in tags.items())
    return _run(run_id, semconv.ML_RUN_TAGS, ts_ns, attrs)


def run_tags_delete(run_id: str, ts_ns: int, keys: Iterable[str]) -> LogRecord:
    attrs = ((semconv.ML_RUN_TAG_PREFIX + k, "") for k in keys)
    return _run(run_id, semconv.ML_RUN_TAGS_DELETE, ts_ns, attrs)


def run_metrics(run_id: str, points: Sequence[MetricPoint]) -> list[LogRecord]:
    """One record per (step, timestamp): its keys as ml.run.metric.<key> doubles."""
    groups: dict[tuple[int, int], list[MetricPoint]] = {}
    for p in points:
        groups.setdefault((p.step, p.timestamp_ms), []).append(p)
    out = []
    prefix = semconv.ML_RUN_METRIC_PREFIX
    for (step, ts_ms), group in groups.items():
        record = _run(
            run_id, semconv.ML_RUN_METRICS, ts_ms * 1_000_000, [(semconv.ML_RUN_STEP, step)]
        )
        # The hot path of log_batch: KeyValues filled in place (a constructed message would
        # be copied into the list).
        add = record.attributes.add
        for p in group:
            kv = add()
            kv.key = prefix + p.key
            kv.value.double_value = p.value
        out.append(record)
    return out


def run_input(run_id: str, ts_ns: int, d: Dataset) -> LogRecord:
    attrs: list[tuple[str, Any]] = [
        (semconv.ML_RUN_INPUT_NAME, d.name),
        (semconv.ML_RUN_INPUT_DIGEST, d.digest),
        (semconv.ML_RUN_INPUT_SOURCE_TYPE, d.source_type),
        (semconv.ML_RUN_INPUT_SOURCE, d.source),
        (semconv.ML_RUN_INPUT_SCHEMA, d.schema),
        (semconv.ML_RUN_INPUT_PROFILE, d.profile),
    ]
    attrs.extend((semconv.ML_RUN_INPUT_TAG_PREFIX + k, v) for k, v in d.tags.items())
    return _run(run_id, semconv.ML_RUN_INPUT, ts_ns, attrs)


def run_artifact(
    run_id: str, ts_ns: int, *, uri: str, path: str, size: int, sha256: str
) -> LogRecord:
    return _run(
        run_id, semconv.ML_RUN_ARTIFACT, ts_ns,
        [
            (semconv.ML_RUN_ARTIFACT_URI, uri),
            (semconv.ML_RUN_ARTIFACT_PATH, path),
            (semconv.ML_RUN_ARTIFACT_SIZE, size),
            (semconv.ML_RUN_ARTIFACT_SHA256, sha256),
        ],
    )  # fmt: skip


# ---- experiments ---------------------------------------------------------------------------------


def experiment(
    event: str, experiment_id: str, ts_ns: int, *, name: str = "", artifact_location: str = "",
    tags: Mapping[str, str] | None = None,
) -> LogRecord:  # fmt: skip
    attrs: list[tuple[str, Any]] = [(semconv.ML_EXPERIMENT_ID, experiment_id)]
    if name:
        attrs.append((semconv.ML_EXPERIMENT_NAME, name))
    if artifact_location:
        attrs.append((semconv.ML_EXPERIMENT_ARTIFACT_LOCATION, artifact_location))
    attrs.extend((semconv.ML_EXPERIMENT_TAG_PREFIX + k, v) for k, v in (tags or {}).items())
    return _record(event, ts_ns, attrs)
