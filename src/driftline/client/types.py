"""The client's answers as dataclasses, and one generic mapping from protobuf messages to them.

Every dataclass here mirrors one message of query.proto or runs.proto **by field name**: a
field the server does not send (an older server) keeps its default, a field the server adds
(a newer server) is ignored until a dataclass names it. So the client keeps working across
proto additions on either side. Nested messages, repeated fields and maps follow the
dataclass's type hints. `to_pandas()` (pandas optional: `pip install 'driftline[pandas]'`)
turns an answer's rows into a DataFrame.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")


def from_message(cls: type[T], message: Any) -> T:
    """Build dataclass `cls` from the same-named fields of a protobuf message."""
    present = message.DESCRIPTOR.fields_by_name
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in present:
            continue
        descriptor = present[f.name]
        singular_message = descriptor.message_type is not None and not _is_repeated(descriptor)
        if singular_message and not message.HasField(f.name):
            continue
        kwargs[f.name] = _value(hints[f.name], getattr(message, f.name))
    return cls(**kwargs)


def _is_repeated(descriptor: Any) -> bool:
    is_repeated = getattr(descriptor, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(descriptor.label == descriptor.LABEL_REPEATED)


def _value(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if isinstance(tp, types.UnionType) or origin is typing.Union:
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _value(inner[0], value)
    if origin is list:
        (item,) = get_args(tp)
        return [_value(item, v) for v in value]
    if origin is dict:
        _, item = get_args(tp)
        return {str(k): _value(item, v) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_message(tp, value)  # type: ignore[arg-type]
    if tp is float:
        return float(value)
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    if tp is str:
        return str(value)
    return value


def _frame(records: list[dict[str, Any]], columns: list[str] | None = None) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install 'driftline[pandas]'") from None
    return pd.DataFrame.from_records(records, columns=columns)


def _flat(row: Any, prefix: str = "") -> dict[str, Any]:
    """A dataclass as one flat record: maps become `prefix.key` columns, lists stay values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(row):
        value = getattr(row, f.name)
        if isinstance(value, Mapping):
            for k, v in value.items():
                out[f"{prefix}{f.name}.{k}" if f.name != "keys" else f"{prefix}{k}"] = (
                    v.latest if isinstance(v, MetricSummary) else v
                )
        elif dataclasses.is_dataclass(value):
            out.update(_flat(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def ns_to_datetime(ns: int) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC) if ns else None


# ---- tables (Sql, ListModels, GetTrace, SearchLogs) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    name: str = ""
    type: str = ""


@dataclass(slots=True)
class Table:
    """A result table: typed cells (ints, floats, strings, bools, None; containers and times
    decoded from their JSON text)."""

    columns: list[Column] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    rows_read: int = 0
    elapsed_seconds: float = 0.0

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def records(self) -> list[dict[str, Any]]:
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.rows]

    def to_pandas(self) -> Any:
        """A DataFrame; DateTime columns become timezone-aware timestamps."""
        frame = _frame(self.records(), self.names)
        import pandas as pd

        for column in self.columns:
            if "DateTime" in column.type and not column.type.startswith(("Array", "Map")):
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
        return frame

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One row of ListModels."""

    model: str = ""
    version: str = ""
    inferences: int = 0
    first_seen: str = ""
    last_seen: str = ""
    error_rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Span:
    """One row of GetTrace."""

    start: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    service: str = ""
    name: str = ""
    kind: str = ""
    duration_ms: float = 0.0
    status: str = ""
    message: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One row of SearchLogs."""

    time: str = ""
    severity: str = ""
    service: str = ""
    body: str = ""
    trace_id: str = ""
    span_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inference:
    """One row of SearchInferences."""

    time: str = ""
    version: str = ""
    trace_id: str = ""
    span_id: str = ""
    inference_id: str = ""
    duration_ms: float = 0.0
    status: str = ""
    prediction: str = ""
    score: float = 0.0


def rows_as(cls: type[T], table: Table) -> list[T]:
    """The table's rows as `cls` instances, matched by column name (unknown columns ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return [
        cls(**{k: v for k, v in r.items() if k in names and v is not None}) for r in table.records()
    ]


class Rows(list[T]):
    """A list of row dataclasses with `to_pandas()` (maps become `name.key` columns)."""

    def to_pandas(self) -> Any:
        return _frame([_flat(r) for r in self])


# ---- GetLatency --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencyGroup:
    keys: dict[str, str] = field(default_factory=dict)
    count: int = 0
    error_rate: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class BurnRate:
    window: str = ""
    long_seconds: int = 0
    short_seconds: int = 0
    factor: float = 0.0
    long_burn: float = 0.0
    short_burn: float = 0.0
    alerting: bool = False


@dataclass(frozen=True, slots=True)
class VersionRegression:
    baseline: str = ""
    candidate: str = ""
    n_baseline: int = 0
    n_candidate: int = 0
    baseline_p50_ms: float = 0.0
    candidate_p50_ms: float = 0.0
    baseline_p99_ms: float = 0.0
    candidate_p99_ms: float = 0.0
    p_value: float = 0.0
    cliffs_delta: float = 0.0
    slower: bool = False


@dataclass(frozen=True, slots=True)
class Latency:
    groups: list[LatencyGroup] = field(default_factory=list)
    burn_rates: list[BurnRate] = field(default_factory=list)
    page: bool = False
    ticket: bool = False
    regression: VersionRegression | None = None

    def to_pandas(self) -> Any:
        return _frame([_flat(g) for g in self.groups])


# ---- GetDrift ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    feature: str = ""
    kind: str = ""
    method: str = ""
    score: float = 0.0
    threshold: float = 0.0
    drifted: bool = False
    n_reference: int = 0
    n_current: int = 0
    bins: list[str] = field(default_factory=list)
    reference_shares: list[float] = field(default_factory=list)
    current_shares: list[float] = field(default_factory=list)
    bin_edges: list[float] = field(default_factory=list)  # numerical bins' edges, when sent


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_unix_nano: int = 0
    end_unix_nano: int = 0


@dataclass(frozen=True, slots=True)
class DriftWindow:
    start_unix_nano: int = 0
    end_unix_nano: int = 0
    features: list[FeatureDrift] = field(default_factory=list)
    drifted_count: int = 0
    share: float = 0.0
    dataset_drift: bool = False
    no_data: bool = False  # no current values in this window (servers that say so)

    @property
    def start(self) -> datetime | None:
        return ns_to_datetime(self.start_unix_nano)

    @property
    def end(self) -> datetime | None:
        return ns_to_datetime(self.end_unix_nano)


_PLOT_FIELDS = ("bins", "reference_shares", "current_shares", "bin_edges")


@dataclass(frozen=True, slots=True)
class Drift:
    model: str = ""
    drift_share: float = 0.0
    windows: list[DriftWindow] = field(default_factory=list)
    # The windows compared after the server's defaults, and how the reference was chosen
    # (servers that say so; None / "" otherwise).
    reference_range: TimeRange | None = None
    reference_version: str = ""
    current_range: TimeRange | None = None
    current_version: str = ""
    reference_chosen: str = ""

    @property
    def dataset_drift(self) -> bool:
        """Any window's dataset-drift verdict."""
        return any(w.dataset_drift for w in self.windows)

    def to_pandas(self) -> Any:
        """One row per (window, feature); the plot bins are left out (see `.windows`)."""
        records = []
        for w in self.windows:
            for f in w.features:
                row = {k: v for k, v in _flat(f).items() if k not in _PLOT_FIELDS}
                records.append({"window_start": w.start, "window_end": w.end, **row})
        return _frame(records)


# ---- GetPerformance ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceGroup:
    keys: dict[str, str] = field(default_factory=dict)
    count: int = 0
    labelled: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccuracyDrift:
    reference_accuracy: float = 0.0
    current_accuracy: float = 0.0
    difference: float = 0.0
    p_value: float = 0.0


@dataclass(frozen=True, slots=True)
class Performance:
    task: str = ""
    groups: list[PerformanceGroup] = field(default_factory=list)
    accuracy_drift: AccuracyDrift | None = None

    def to_pandas(self) -> Any:
        records = []
        for g in self.groups:
            row: dict[str, Any] = {**g.keys, "count": g.count, "labelled": g.labelled}
            row.update(g.metrics)
            row.update({f"estimated_{k}": v for k, v in g.estimated.items()})
            records.append(row)
        return _frame(records)


# ---- GetDataQuality, GetMultivariateDrift (quality.proto) -------------------------------------


@dataclass(frozen=True, slots=True)
class QualityCheck:
    name: str = ""
    value: float = 0.0
    has_value: bool = False
    lower: float = 0.0
    has_lower: bool = False
    upper: float = 0.0
    has_upper: bool = False
    alert: bool = False


@dataclass(frozen=True, slots=True)
class FeatureQuality:
    feature: str = ""
    kind: str = ""
    flagged: bool = False
    checks: list[QualityCheck] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QualityWindow:
    start_unix_nano: int = 0
    end_unix_nano: int = 0
    inferences: int = 0
    duplicates: QualityCheck | None = None
    features: list[FeatureQuality] = field(default_factory=list)
    flagged_features: list[str] = field(default_factory=list)
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class Quality:
    model: str = ""
    reference_inferences: int = 0
    reference_chunks: int = 0
    windows: list[QualityWindow] = field(default_factory=list)
    flagged: bool = False
    no_data: bool = False

    def to_pandas(self) -> Any:
        """One row per (window, feature, check)."""
        records = [
            {"window_start": ns_to_datetime(w.start_unix_nano), "feature": f.feature,
             "kind": f.kind, **_flat(c)}
            for w in self.windows for f in w.features for c in f.checks
        ]  # fmt: skip
        return _frame(records)


@dataclass(frozen=True, slots=True)
class MultivariateWindow:
    start_unix_nano: int = 0
    end_unix_nano: int = 0
    rows: int = 0
    reconstruction_error: float = 0.0
    sampling_error: float = 0.0
    lower_threshold: float = 0.0
    upper_threshold: float = 0.0
    alert: bool = False
    classifier_auroc: float = 0.0
    has_classifier: bool = False
    classifier_alert: bool = False


@dataclass(frozen=True, slots=True)
class MultivariateDrift:
    model: str = ""
    numerical_features: list[str] = field(default_factory=list)
    categorical_features: list[str] = field(default_factory=list)
    components: int = 0
    reference_rows: int = 0
    lower_threshold: float = 0.0
    upper_threshold: float = 0.0
    windows: list[MultivariateWindow] = field(default_factory=list)
    drifted: bool = False
    no_data: bool = False

    def to_pandas(self) -> Any:
        return _frame([_flat(w) for w in self.windows])


# ---- references --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedReference:
    name: str = ""
    model: str = ""
    version: str = ""
    start_unix_nano: int = 0
    end_unix_nano: int = 0
    created_unix_nano: int = 0
    rows: int = 0
    inferences: int = 0
    features: list[str] = field(default_factory=list)
    description: str = ""


# ---- runs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricSummary:
    latest: float = 0.0
    latest_step: int = 0
    min: float = 0.0
    max: float = 0.0
    points: int = 0
    last_timestamp_unix_nano: int = 0


@dataclass(frozen=True, slots=True)
class Artifact:
    uri: str = ""
    path: str = ""
    size: int = 0
    sha256: str = ""
    timestamp_unix_nano: int = 0


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str = ""
    experiment: str = ""
    run_name: str = ""
    user_id: str = ""
    status: str = ""
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    last_seen_unix_nano: int = 0
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)


class RunsPage(Rows[Run]):
    """One page of ListRuns; `next_page_token` is empty on the last page."""

    next_page_token: str = ""


@dataclass(frozen=True, slots=True)
class MetricHistory:
    key: str = ""
    steps: list[int] = field(default_factory=list)
    timestamps_unix_nano: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunMetrics:
    run_id: str = ""
    metrics: list[MetricHistory] = field(default_factory=list)

    def to_pandas(self) -> Any:
        """Long form: one row per (key, step)."""
        records = [
            {"key": m.key, "step": s, "timestamp_unix_nano": t, "value": v}
            for m in self.metrics
            for s, t, v in zip(m.steps, m.timestamps_unix_nano, m.values, strict=True)
        ]
        return _frame(records, ["key", "step", "timestamp_unix_nano", "value"])


@dataclass(frozen=True, slots=True)
class RunLogRecord:
    timestamp_unix_nano: int = 0
    severity_text: str = ""
    severity_number: int = 0
    body: str = ""
    logger: str = ""


@dataclass(frozen=True, slots=True)
class RunLogs:
    run_id: str = ""
    records: list[RunLogRecord] = field(default_factory=list)
    truncated: bool = False

    def to_pandas(self) -> Any:
        return _frame([_flat(r) for r in self.records])
