"""Data quality and multivariate drift: plan → statements → rows → answer.

data_quality(client, database, request)
  plan     the reference's chunk boundaries (equal inference counts) and the current
           windows (equal wall-clock slices, or the whole range)
  fetch    inferences per slot, the profile of every feature per slot and per side (one
           scan), then what needs the reference's figures: unseen categories and values
           out of the reference's range, new and absent categories
  score    analysis.quality: shares, learned thresholds, verdicts

multivariate_drift(client, database, request)
  fetch    a deterministic sample (≤ `max_rows` per side) of whole inferences, columnar
  score    analysis.multivariate: data reconstruction error per chunk (NannyML) and a
           domain-classifier AUROC per current window
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from clickhouse_connect.driver.client import Client
from threadpoolctl import threadpool_limits

from driftline.analysis import multivariate as mv
from driftline.analysis import quality as dq
from driftline.errors import EmptyWindowError, InvalidInputError, NotFoundError
from driftline.storage import quality_sql as sql
from driftline.storage.bind import Statement
from driftline.storage.quality_sql import Scope

DEFAULT_CHUNKS: Final = 10
DEFAULT_SAMPLE_ROWS: Final = 100_000
MAX_WINDOWS: Final = 1000


class EmptyReferenceError(EmptyWindowError):
    """The reference has no rows: nothing to compare with (FAILED_PRECONDITION)."""


@dataclass(frozen=True, slots=True)
class QualityRequest:
    model: str
    reference: Scope
    current: Scope
    features: Sequence[str] = ()
    window_ns: int = 0  # > 0: split the current range into windows of this length
    reference_chunks: int = DEFAULT_CHUNKS
    range_quantile: float = 0.0  # > 0: the reference range is [q, 1-q] instead of [min, max]
    options: dq.QualityOptions = field(default_factory=dq.QualityOptions)
    timeout_s: float = 0  # > 0: every statement's max_execution_time


@dataclass(frozen=True, slots=True)
class QualityAnswer:
    model: str
    reference_inferences: int
    reference_chunks: int
    reference: Mapping[str, dq.Summary]
    windows: Sequence[dq.WindowQuality]

    @property
    def no_data(self) -> bool:
        return not any(w.inferences for w in self.windows)

    @property
    def flagged(self) -> bool:
        return any(w.flagged for w in self.windows)


def _windows(cur: Scope, window_ns: int) -> list[tuple[int, int]]:
    if window_ns <= 0:
        return [(cur.start_ns, cur.end_ns)]
    n = min(max(math.ceil((cur.end_ns - cur.start_ns) / window_ns), 1), MAX_WINDOWS)
    return [
        (cur.start_ns + i * window_ns, min(cur.start_ns + (i + 1) * window_ns, cur.end_ns))
        for i in range(n)
    ]


def _run(client: Client, statement: Statement, timeout_s: float = 0) -> list[tuple[Any, ...]]:
    text, params = statement
    settings = {"max_execution_time": timeout_s} if timeout_s > 0 else None
    result = client.query(text, parameters=params, settings=settings)
    return [tuple(r) for r in result.result_rows]


def require_model(client: Client, database: str, model: str) -> None:
    """NotFoundError naming the known models when `model` has no inferences."""
    if not model:
        raise InvalidInputError("model is required")
    known = [str(r[0]) for r in _run(client, sql.models(database))]
    if model not in known:
        listed = ", ".join(known[:20]) or "none yet"
        raise NotFoundError(f"unknown model {model!r}; models with inferences: {listed}")


def _counts(row: Sequence[Any]) -> dq.Counts:
    (numerical, categorical, non_finite, empty, lo, hi, mean, std, distinct, qs, carriers) = row
    finite = int(numerical) - int(non_finite)

    def number(x: Any) -> float:
        return float(x) if finite > 0 else math.nan

    return dq.Counts(
        numerical=int(numerical),
        categorical=int(categorical),
        non_finite=int(non_finite),
        empty=int(empty),
        minimum=number(lo),
        maximum=number(hi),
        mean=number(mean),
        std=float(std) if finite > 1 and math.isfinite(float(std)) else math.nan,
        distinct=int(distinct),
        quantiles=tuple(float(q) for q in qs) if finite > 0 else (),
        carriers=int(carriers),
    )


def _no_data(model: str, windows: Sequence[tuple[int, int]]) -> QualityAnswer:
    none = dq.Check(dq.DUPLICATES, math.nan, None, None)
    empty = [dq.WindowQuality(i, a, b, 0, none, ()) for i, (a, b) in enumerate(windows)]
    return QualityAnswer(model, 0, 0, {}, empty)


def data_quality(client: Client, database: str, request: QualityRequest) -> QualityAnswer:
    ref, cur, model = request.reference, request.current, request.model

    def run(statement: Statement) -> list[tuple[Any, ...]]:
        return _run(client, statement, request.timeout_s)

    k = max(request.reference_chunks, 1)
    bounds_row = run(sql.chunk_bounds(database, model, ref, k))[0]
    bounds = [int(b) for b in bounds_row[2]]
    chunks = len(bounds) + 1 if bounds else 1
    slots = {
        int(slot): dq.Slot(int(n), int(ids))
        for slot, n, ids in run(
            sql.inferences(database, model, ref, cur, bounds, request.window_ns)
        )
    }
    reference: dict[str, dq.Counts] = {}
    ref_chunks: dict[str, list[dq.Counts]] = {}
    current: dict[tuple[str, int], dq.Counts] = {}
    for row in run(
        sql.profile(database, model, ref, cur, bounds, request.window_ns, request.features),
    ):
        feature, at, whole, *figures = row
        counts = _counts(figures)
        if whole and at < 0:
            reference[feature] = counts
        elif at < 0:
            ref_chunks.setdefault(feature, [dq.Counts()] * chunks)[-1 - int(at)] = counts
        elif not whole:
            current[(feature, int(at))] = counts
    windows = _windows(cur, request.window_ns)
    if not current and not any(n.inferences for slot, n in slots.items() if slot >= 0):
        return _no_data(model, windows)  # said before anything about the reference
    if not reference:
        raise EmptyReferenceError(f"model {model!r} has no feature values in the reference")
    features = sorted(request.features or {f for f in reference} | {f for f, _ in current})
    if ref.snapshot:  # no inference rows were saved: count the timestamps carrying features
        saved = {int(slot): int(n) for slot, n, _ in run(
            sql.snapshot_inferences(database, model, ref, bounds)
        )}  # fmt: skip
        ref_inferences = [saved.get(-1 - i, 0) for i in range(chunks)]
    else:
        ref_inferences = [slots.get(-1 - i, dq.Slot(0, 0)).inferences for i in range(chunks)]
    numeric = [
        f for f in features if dq.dominant_kind(reference.get(f, dq.Counts())) == "numerical"
    ]
    ranges = {
        f: dq.range_bounds(
            reference.get(f, dq.Counts()), request.range_quantile, sql.QUANTILE_LEVELS
        )
        for f in numeric
    }
    categorical = [f for f in features if f not in ranges]
    versus = {
        (f, int(slot)): dq.Versus(int(unseen), int(out))
        for f, slot, unseen, out in run(
            sql.versus(database, model, ref, cur, request.window_ns, categorical, ranges)
        )
    }
    new: dict[str, list[tuple[str, int]]] = {}
    absent: dict[str, list[tuple[str, int]]] = {}
    if categorical:
        for f, which, category, n in run(sql.categories(database, model, ref, cur, categorical)):
            (new if which == "new" else absent).setdefault(f, []).append((category, int(n)))
    inputs = dq.QualityInputs(
        features=features,
        reference=reference,
        reference_chunks=ref_chunks,
        reference_chunk_inferences=ref_inferences,
        reference_inferences=sum(ref_inferences),
        current=current,
        current_slots={s: v for s, v in slots.items() if s >= 0},
        versus=versus,
        new_categories=new,
        absent_categories=absent,
        windows=windows,
    )
    return QualityAnswer(
        model=model,
        reference_inferences=sum(ref_inferences),
        reference_chunks=chunks,
        reference=dq.reference_summary(inputs),
        windows=dq.data_quality(inputs, request.options),
    )


# ---- multivariate ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MultivariateRequest:
    model: str
    reference: Scope
    current: Scope
    features: Sequence[str] = ()  # default: every model input (not ml.* predictions/scores)
    window_ns: int = 0
    reference_chunks: int = DEFAULT_CHUNKS
    max_rows: int = DEFAULT_SAMPLE_ROWS  # per side
    seed: int = 16  # NannyML's PCA random_state, for the record
    classifier: bool = True
    timeout_s: float = 0


@dataclass(frozen=True, slots=True)
class WindowError:
    start_ns: int
    end_ns: int
    rows: int
    error: mv.ChunkError
    classifier_auroc: float

    @property
    def classifier_alert(self) -> bool:
        lo, hi = mv.CLASSIFIER_BOUNDS
        return math.isfinite(self.classifier_auroc) and not lo <= self.classifier_auroc <= hi


@dataclass(frozen=True, slots=True)
class MultivariateAnswer:
    model: str
    numerical: Sequence[str]
    categorical: Sequence[str]
    components: int
    reference_rows: int
    reference_chunks: Sequence[mv.ChunkError]
    windows: Sequence[WindowError]

    @property
    def no_data(self) -> bool:
        return not any(w.rows for w in self.windows)

    @property
    def drifted(self) -> bool:
        return any(w.error.alert or w.classifier_alert for w in self.windows)


def _table(columns: Sequence[Sequence[Any]], n_num: int, n_cat: int) -> tuple[Any, mv.Table]:
    """(timestamps, table) from the sample's columns: t, numbers…, category codes…"""
    if not columns:
        return np.zeros(0, dtype=np.int64), mv.Table(np.zeros((0, n_num)), [
            np.zeros(0, dtype=np.uint64) for _ in range(n_cat)
        ])  # fmt: skip
    times = np.asarray(columns[0], dtype=np.int64)
    num = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns[1 : 1 + n_num]])
    cats = [np.asarray(c, dtype=np.uint64) for c in columns[1 + n_num :]]
    return times, mv.Table(num.reshape(len(times), n_num), cats)


def _sample(
    client: Client, database: str, request: MultivariateRequest, scope: Scope,
    numerical: Sequence[str], categorical: Sequence[str], inferences: int,
) -> tuple[Any, mv.Table]:  # fmt: skip
    rate = 1.0 if inferences <= request.max_rows else request.max_rows / inferences
    text, params = sql.sample(
        database, request.model, scope, numerical, categorical, rate, request.seed
    )
    settings = {"max_execution_time": request.timeout_s} if request.timeout_s > 0 else None
    columns = client.query(text, parameters=params, settings=settings).result_columns
    return _table(columns, len(numerical), len(categorical))


def _empty_window(window: tuple[int, int]) -> WindowError:
    nothing = mv.ChunkError(0, 0, math.nan, math.nan, None, None)
    return WindowError(window[0], window[1], 0, nothing, math.nan)


def multivariate_drift(
    client: Client, database: str, request: MultivariateRequest
) -> MultivariateAnswer:
    ref, cur, model = request.reference, request.current, request.model

    def run(statement: Statement) -> list[tuple[Any, ...]]:
        return _run(client, statement, request.timeout_s)

    slots = {int(s): int(n) for s, n, _ in run(sql.inferences(database, model, ref, cur, [], 0))}
    counted = {
        f: (int(n), int(c)) for f, n, c in run(sql.kinds(database, model, ref, request.features))
    }
    kinds = {f: "categorical" if c > n else "numerical" for f, (n, c) in counted.items()}
    features = [f for f in (request.features or sorted(kinds)) if f in kinds]
    if not request.features:
        features = [f for f in features if not f.startswith("ml.")]
    windows = _windows(cur, request.window_ns)
    if not slots.get(0, 0):
        return MultivariateAnswer(model, [], [], 0, 0, [], [_empty_window(w) for w in windows])
    if not features:
        raise EmptyReferenceError(f"model {model!r} has no feature values in the reference")
    numerical = [f for f in features if kinds[f] == "numerical"]
    categorical = [f for f in features if kinds[f] == "categorical"]
    # a saved reference keeps no inference rows: its busiest feature counts its inferences
    ref_n = slots.get(-1, 0) or max(n + c for n, c in counted.values())
    _, ref_table = _sample(client, database, request, ref, numerical, categorical, ref_n)
    if ref_table.rows < 2:
        raise EmptyReferenceError(
            f"model {model!r}: too few reference inferences ({ref_table.rows})"
        )
    cur_times, cur_table = _sample(
        client, database, request, cur, numerical, categorical, slots.get(0, 0)
    )
    times = cur_times
    parts = []
    for start, end in windows:
        a, b = np.searchsorted(times, start), np.searchsorted(times, end)
        parts.append(cur_table.take(int(a), int(b)))
    # OpenBLAS' threads spin against the engine's for these small matrices: 40x slower
    # measured on 2 cores (8k x 77 logistic fit: 1.4 s threaded, 0.04 s on one thread)
    with threadpool_limits(limits=1, user_api="blas"):
        fitted, ref_chunks, cur_chunks = mv.reconstruction_drift(
            ref_table, parts, request.reference_chunks
        )
        results = []
        for (start, end), part, chunk in zip(windows, parts, cur_chunks, strict=True):
            auc = (
                mv.domain_classifier_auroc(fitted, ref_table, part, request.seed)
                if request.classifier and part.rows
                else math.nan
            )
            results.append(WindowError(start, end, part.rows, chunk, auc))
    return MultivariateAnswer(
        model=model,
        numerical=numerical,
        categorical=categorical,
        components=int(fitted.components.shape[0]),
        reference_rows=ref_table.rows,
        reference_chunks=ref_chunks,
        windows=results,
    )
