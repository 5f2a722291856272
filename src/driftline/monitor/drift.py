"""Data and prediction drift of a model: reference vs current window(s), per feature.

    1. drift_stats   one grouped query: per feature and side — kind, rows, distinct values,
                     min/max, mean, variance (enough for t_test and for choosing methods)
    2. drift_counts  one grouped query: value counts where a column is categorical or has
                     ≤ 20 distinct reference values (chi-square, z, JS/PSI/KL by value, …)
    3. drift_values  per numerical feature that needs them: raw values, streamed columnar
                     (numpy), for ks/wasserstein/ed/mannw/anderson/cvm and Sturges-binned
                     PSI/KL/JS/Hellinger (Evidently's edges span ref ∪ cur)
    4. finish        drift_methods.py with numpy/scipy; dataset drift = share ≥ drift_share

Predictions and scores are features named `ml.prediction` / `ml.prediction.score`, so prediction
drift is the same call with `features=["ml.prediction"]`. Threshold precedence is Evidently's:
per-feature > per-kind > request-wide > the method's default. With `window_s`, the current
range is split into windows and each is compared with the reference, all from the same queries.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from clickhouse_connect.driver.client import Client

from driftline.errors import InvalidInputError, NotFoundError, PermanentError
from driftline.monitor.drift_methods import (
    RAW_METHODS,
    Binned,
    Sample,
    check_method,
    default_method,
)
from driftline.storage import monitor_sql
from driftline.storage.monitor_sql import Range

REFERENCE = -1


class EmptyWindowError(PermanentError):
    """The reference or the current window holds no rows for the model."""


@dataclass(frozen=True)
class DriftRequest:
    model: str
    reference: Range
    current: Range
    features: list[str] = field(default_factory=list)  # empty: every feature of the model
    method: str = ""  # request-wide override
    threshold: float | None = None
    num_method: str = ""
    cat_method: str = ""
    num_threshold: float | None = None
    cat_threshold: float | None = None
    feature_methods: dict[str, str] = field(default_factory=dict)
    feature_thresholds: dict[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    window_s: int = 0  # > 0: split the current range into windows of this many seconds


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    distribution: Binned | None


@dataclass(frozen=True)
class DriftWindow:
    start_ns: int
    end_ns: int
    features: list[FeatureDrift]

    @property
    def drifted_count(self) -> int:
        return sum(f.drifted for f in self.features)

    @property
    def share(self) -> float:
        return self.drifted_count / len(self.features) if self.features else 0.0


@dataclass(frozen=True)
class DriftReport:
    model: str
    drift_share: float
    windows: list[DriftWindow]

    def dataset_drift(self, window: DriftWindow) -> bool:
        return bool(window.features) and window.share >= self.drift_share


@dataclass
class _Side:
    kind: str
    n: int
    uniq: int
    mean: float
    var: float
    counts: dict[object, int] | None = None
    values: np.ndarray | None = None


def compute_drift(client: Client, database: str, request: DriftRequest) -> DriftReport:
    _validate(request)
    sql, params = monitor_sql.drift_stats(
        request.model, request.reference, request.current, request.window_s, request.features
    )
    sides: dict[str, dict[int, _Side]] = defaultdict(dict)
    for feature, kind, side, n, uniq, _lo, _hi, mean, var in _rows(client, database, sql, params):
        sides[feature][int(side)] = _Side(kind, int(n), int(uniq), float(mean), float(var))
    if not sides:
        exists, p = monitor_sql.model_exists(request.model)
        if not _rows(client, database, exists, p)[0][0]:
            raise NotFoundError(f"unknown model {request.model!r}: no inferences stored")
        if request.features:
            raise NotFoundError(
                f"no values for feature(s) {sorted(request.features)} of {request.model!r} "
                "in these windows"
            )
        raise EmptyWindowError(f"model {request.model!r} has no feature values in these windows")
    missing = set(request.features) - sides.keys()
    if missing:
        raise NotFoundError(f"no values for feature(s) {sorted(missing)} of {request.model!r}")
    if not any(REFERENCE in by_side for by_side in sides.values()):
        raise EmptyWindowError("the reference window holds no rows for this model")
    if not any(k != REFERENCE for by_side in sides.values() for k in by_side):
        raise EmptyWindowError("the current window holds no rows for this model")

    few = [
        f
        for f, by_side in sides.items()
        if any(s.kind == "categorical" or s.uniq <= 20 for s in by_side.values())
    ]
    if few:
        sql, params = monitor_sql.drift_counts(
            request.model, request.reference, request.current, request.window_s, few
        )
        for feature, side, kind, value, category, n in _rows(client, database, sql, params):
            key: object = category if kind == "categorical" else float(value)
            target = sides[feature][int(side)]
            if target.counts is None:
                target.counts = {}
            target.counts[key] = int(n)

    plans = {f: _plan(request, f, by_side) for f, by_side in sides.items()}
    for feature, (kind, methods) in plans.items():
        needs_raw = kind == "numerical" and any(
            m in RAW_METHODS or sides[feature][REFERENCE].counts is None for m in methods.values()
        )
        if needs_raw:
            _load_values(client, database, request, feature, sides[feature])

    windows: dict[int, list[FeatureDrift]] = defaultdict(list)
    for feature, by_side in sorted(sides.items()):
        ref = by_side.get(REFERENCE)
        kind, methods = plans[feature]
        for side, cur in sorted(by_side.items()):
            if side == REFERENCE or ref is None:
                continue
            windows[side].append(_finish(request, feature, kind, methods[side], ref, cur))
    step = request.window_s * 1_000_000_000
    out = []
    for side, features in sorted(windows.items()):
        start = request.current.start_ns + side * step if step else request.current.start_ns
        end = min(start + step, request.current.end_ns) if step else request.current.end_ns
        out.append(DriftWindow(start, end, features))
    return DriftReport(request.model, request.drift_share, out)


def _validate(request: DriftRequest) -> None:
    if not request.model:
        raise InvalidInputError("model is required")
    for name, r in (("reference", request.reference), ("current", request.current)):
        if r.end_ns <= r.start_ns:
            raise InvalidInputError(f"the {name} window is empty (end <= start)")
    if not 0 < request.drift_share <= 1:
        raise InvalidInputError("drift_share must be in (0, 1]")
    if request.window_s < 0:
        raise InvalidInputError("window_s must be >= 0")


def _plan(
    request: DriftRequest, feature: str, by_side: dict[int, _Side]
) -> tuple[str, dict[int, str]]:
    """The column kind and, per current window, the method (override or Evidently default)."""
    kind = next(iter(by_side.values())).kind
    ref = by_side.get(REFERENCE)
    methods: dict[int, str] = {}
    for side, cur in by_side.items():
        if side == REFERENCE or ref is None:
            continue
        name = (
            request.feature_methods.get(feature)
            or (request.num_method if kind == "numerical" else request.cat_method)
            or request.method
        )
        if not name:
            if ref.counts is not None and cur.counts is not None:
                n_unique = len(set(ref.counts) | set(cur.counts))
            else:  # a side with > 20 distinct values: the union has more than 5
                n_unique = max(ref.uniq, cur.uniq)
            name = default_method(kind, n_unique, ref.n)
        check_method(name, kind)
        methods[side] = name
    return kind, methods


def _finish(
    request: DriftRequest, feature: str, kind: str, name: str, ref: _Side, cur: _Side
) -> FeatureDrift:
    method = check_method(name, kind)
    threshold = request.feature_thresholds.get(feature)
    if threshold is None:
        threshold = request.num_threshold if kind == "numerical" else request.cat_threshold
    if threshold is None:
        threshold = request.threshold if request.threshold is not None else method.threshold
    score = method.compute(_sample(ref), _sample(cur), kind)
    distribution = score.binned
    if distribution is None:
        try:  # what the report draws: Evidently's bins for the column
            from driftline.monitor.drift_methods import binned

            distribution = binned(_sample(ref), _sample(cur), kind, fill=False)
        except InvalidInputError:
            distribution = None
    value = score.value
    drifted = bool(method.drifted(value, threshold)) if not math.isnan(value) else False
    return FeatureDrift(feature, kind, name, value, threshold, drifted, ref.n, cur.n, distribution)


def _sample(side: _Side) -> Sample:
    return Sample(side.n, side.counts, side.values, side.mean, side.var)


def _load_values(
    client: Client, database: str, request: DriftRequest, feature: str, by_side: dict[int, _Side]
) -> None:
    sql, params = monitor_sql.drift_values(
        request.model, request.reference, request.current, request.window_s, feature
    )
    data = client.query_np(_qualify(sql, database), parameters=params)
    if data.size == 0:
        return
    side_col = np.asarray(data[:, 0], dtype=np.float64)
    values = np.asarray(data[:, 1], dtype=np.float64)
    for side, target in by_side.items():
        target.values = values[side_col == side]


def _qualify(sql: str, database: str) -> str:
    # Our statements name bare tables; a connected client does not default to its database.
    return _TABLE.sub(lambda m: f"{m.group(1)} `{database}`.{m.group(2)}", sql)


_TABLE = re.compile(r"\b(FROM|JOIN)\s+((?:ml|otel)_\w+)\b")


def _rows(
    client: Client, database: str, sql: str, params: dict[str, object]
) -> list[Sequence[Any]]:
    return list(client.query(_qualify(sql, database), parameters=params).result_rows)
