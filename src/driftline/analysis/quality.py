"""Data quality per feature and per window: pure arithmetic over the engine's counts.

The engine counts (storage/quality_sql.py); this module turns counts into shares, learns
thresholds from the reference's chunks and gives verdicts. No I/O: every input is a dataclass.

Checks (one value per feature and window; `alert` when outside [lower, upper]):

    missing_share       (inferences without the feature + NaN/±inf numbers + empty categories)
                        / inferences — NannyML's missing-values rate, where "absent from the
                        inference" is the row that is not there
    type_mismatch_share rows whose kind (number vs string) is not the feature's dominant kind in
                        the reference / rows — counted, never silently split into two features
    unseen_share        categorical: rows with a category the reference never had / non-empty
                        categorical rows — NannyML's unseen-values rate
    out_of_range_share  numerical: finite values outside the reference's [min, max] (or its
                        [q, 1-q] quantiles) / finite values
    became_constant     1 when the window has ≤ 1 distinct value and the reference had more
    duplicate_id_share  per window, not per feature: inferences whose ml.inference.id repeats
                        an earlier one / inferences

Thresholds. `reference` mode (the default, NannyML's): missing and type-mismatch shares get
mean ± 3σ (ddof 0) of their values on the reference chunks, clipped to [0, 1], a bound equal to
its clip limit dropped (NannyML's `override_using_none`). The other checks have fixed upper
bounds (unseen 0 as in NannyML: any new category alerts; out-of-range 0.01; duplicates 0;
constant 0). `fixed` mode uses fixed upper bounds for every check (missing 0.05, mismatch 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

MISSING: Final = "missing_share"
MISMATCH: Final = "type_mismatch_share"
UNSEEN: Final = "unseen_share"
OUT_OF_RANGE: Final = "out_of_range_share"
CONSTANT: Final = "became_constant"
DUPLICATES: Final = "duplicate_id_share"

LEARNED: Final = (MISSING, MISMATCH)
FIXED_UPPER: Final[Mapping[str, float]] = {
    MISSING: 0.05,
    MISMATCH: 0.0,
    UNSEEN: 0.0,
    OUT_OF_RANGE: 0.01,
    CONSTANT: 0.0,
    DUPLICATES: 0.0,
}
STD_MULTIPLIER: Final = 3.0


@dataclass(frozen=True, slots=True)
class Counts:
    """One feature in one slot (a reference chunk, a current window or a whole side)."""

    numerical: int = 0
    categorical: int = 0
    non_finite: int = 0  # numerical rows whose value is NaN or ±inf
    empty: int = 0  # categorical rows whose value is ''
    minimum: float = math.nan  # over finite numbers
    maximum: float = math.nan
    mean: float = math.nan
    std: float = math.nan  # sample standard deviation (ddof 1)
    distinct: int = 0  # distinct non-missing values of the dominant kind
    quantiles: tuple[float, ...] = ()  # at QUANTILE_LEVELS, finite numbers (t-digest)
    carriers: int = 0  # distinct inference timestamps carrying the feature

    @property
    def rows(self) -> int:
        return self.numerical + self.categorical


@dataclass(frozen=True, slots=True)
class Slot:
    """Inferences of one slot: how many, and how many distinct inference ids."""

    inferences: int
    distinct_ids: int


@dataclass(frozen=True, slots=True)
class Versus:
    """One feature in one current window, compared with the reference's values."""

    unseen: int = 0
    out_of_range: int = 0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float
    lower: float | None
    upper: float | None

    @property
    def alert(self) -> bool:
        if math.isnan(self.value):
            return False
        return (self.upper is not None and self.value > self.upper) or (
            self.lower is not None and self.value < self.lower
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """What a person compares side by side: counts and moments of one feature in one slot."""

    count: int
    mean: float
    std: float
    minimum: float
    maximum: float
    quantiles: tuple[float, ...]
    distinct: int


@dataclass(frozen=True, slots=True)
class FeatureQuality:
    feature: str
    kind: str  # the dominant kind: numerical | categorical
    summary: Summary
    checks: tuple[Check, ...]
    new_categories: tuple[tuple[str, int], ...] = ()
    absent_categories: tuple[tuple[str, int], ...] = ()

    @property
    def flagged(self) -> bool:
        return any(c.alert for c in self.checks)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


@dataclass(frozen=True, slots=True)
class WindowQuality:
    index: int
    start_ns: int
    end_ns: int
    inferences: int
    duplicates: Check
    features: tuple[FeatureQuality, ...]

    @property
    def flagged_features(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.flagged)

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_features) or self.duplicates.alert


@dataclass(frozen=True, slots=True)
class QualityInputs:
    """Everything the engine counted for one question (see query/quality.py)."""

    features: Sequence[str]
    reference: Mapping[str, Counts]  # feature → the whole reference
    reference_chunks: Mapping[str, Sequence[Counts]]  # feature → per chunk, oldest first
    reference_chunk_inferences: Sequence[int]
    reference_inferences: int
    current: Mapping[tuple[str, int], Counts]  # (feature, window) → counts
    current_slots: Mapping[int, Slot]  # window → inferences
    versus: Mapping[tuple[str, int], Versus] = field(default_factory=dict)
    new_categories: Mapping[str, Sequence[tuple[str, int]]] = field(default_factory=dict)
    absent_categories: Mapping[str, Sequence[tuple[str, int]]] = field(default_factory=dict)
    windows: Sequence[tuple[int, int]] = ()  # (start_ns, end_ns) per window


@dataclass(frozen=True, slots=True)
class QualityOptions:
    threshold_mode: str = "reference"  # or "fixed"
    thresholds: Mapping[str, float] = field(default_factory=dict)  # check → fixed upper bound
    feature_thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def dominant_kind(counts: Counts) -> str:
    return "categorical" if counts.categorical > counts.numerical else "numerical"


def missing_share(counts: Counts, inferences: int) -> float:
    """(absent + NaN/inf + empty) / inferences; NaN when there were no inferences."""
    if inferences <= 0:
        return math.nan
    absent = max(inferences - counts.rows, 0)
    return min((absent + counts.non_finite + counts.empty) / inferences, 1.0)


def mismatch_share(counts: Counts, kind: str) -> float:
    if counts.rows == 0:
        return math.nan
    other = counts.categorical if kind == "numerical" else counts.numerical
    return other / counts.rows


def std_threshold(
    values: Sequence[float], lower_limit: float = 0.0, upper_limit: float = 1.0
) -> tuple[float | None, float | None]:
    """NannyML's StandardDeviationThreshold: mean ± 3σ (ddof 0) of the finite `values`,
    clipped to the limits; a bound that lands on its limit is dropped (None)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None, None
    mean = math.fsum(finite) / len(finite)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / len(finite))
    lower = max(mean - STD_MULTIPLIER * std, lower_limit)
    upper = min(mean + STD_MULTIPLIER * std, upper_limit)
    return (None if lower <= lower_limit else lower), (None if upper >= upper_limit else upper)


def _fixed(name: str, feature: str, options: QualityOptions) -> float:
    per_feature = options.feature_thresholds.get(feature, {})
    if name in per_feature:
        return per_feature[name]
    return options.thresholds.get(name, FIXED_UPPER[name])


def _bounds(
    name: str, feature: str, learned: Sequence[float], options: QualityOptions
) -> tuple[float | None, float | None]:
    overridden = name in options.feature_thresholds.get(feature, {}) or name in options.thresholds
    if options.threshold_mode == "reference" and name in LEARNED and not overridden:
        return std_threshold(learned)
    return None, _fixed(name, feature, options)


def _share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else math.nan


def _summary(counts: Counts, kind: str) -> Summary:
    n = counts.numerical - counts.non_finite if kind == "numerical" else counts.categorical
    return Summary(
        count=max(n, 0),
        mean=counts.mean,
        std=counts.std,
        minimum=counts.minimum,
        maximum=counts.maximum,
        quantiles=counts.quantiles,
        distinct=counts.distinct,
    )


def reference_summary(inputs: QualityInputs) -> dict[str, Summary]:
    return {f: _summary(c, dominant_kind(c)) for f, c in inputs.reference.items()}


def _feature(
    inputs: QualityInputs, feature: str, window: int, options: QualityOptions
) -> FeatureQuality:
    ref = inputs.reference.get(feature, Counts())
    cur = inputs.current.get((feature, window), Counts())
    kind = dominant_kind(ref if ref.rows else cur)
    inferences = inputs.current_slots.get(window, Slot(0, 0)).inferences
    chunks = inputs.reference_chunks.get(feature, ())
    chunk_inferences = inputs.reference_chunk_inferences
    learned_missing = [
        missing_share(c, n) for c, n in zip(chunks, chunk_inferences, strict=False) if n > 0
    ]
    learned_mismatch = [mismatch_share(c, kind) for c in chunks if c.rows > 0]
    versus = inputs.versus.get((feature, window), Versus())
    missing = _bounds(MISSING, feature, learned_missing, options)
    mismatch = _bounds(MISMATCH, feature, learned_mismatch, options)
    checks = [
        Check(MISSING, missing_share(cur, inferences), *missing),
        Check(MISMATCH, mismatch_share(cur, kind), *mismatch),
    ]
    if kind == "categorical":
        valid = cur.categorical - cur.empty
        checks.append(
            Check(UNSEEN, _share(versus.unseen, valid), None, _fixed(UNSEEN, feature, options))
        )
    else:
        finite = cur.numerical - cur.non_finite
        checks.append(
            Check(OUT_OF_RANGE, _share(versus.out_of_range, finite), None,
                  _fixed(OUT_OF_RANGE, feature, options))
        )  # fmt: skip
    became_constant = float(cur.rows > 0 and cur.distinct <= 1 and ref.distinct > 1)
    checks.append(Check(CONSTANT, became_constant, None, _fixed(CONSTANT, feature, options)))
    return FeatureQuality(
        feature=feature,
        kind=kind,
        summary=_summary(cur, kind),
        checks=tuple(checks),
        new_categories=tuple(inputs.new_categories.get(feature, ())),
        absent_categories=tuple(inputs.absent_categories.get(feature, ())),
    )


def data_quality(inputs: QualityInputs, options: QualityOptions) -> list[WindowQuality]:
    """One verdict per current window, each with one result per feature."""
    windows = []
    for index, (start, end) in enumerate(inputs.windows):
        slot = inputs.current_slots.get(index, Slot(0, 0))
        duplicates = Check(
            DUPLICATES,
            _share(slot.inferences - slot.distinct_ids, slot.inferences),
            None,
            options.thresholds.get(DUPLICATES, FIXED_UPPER[DUPLICATES]),
        )
        features = tuple(_feature(inputs, f, index, options) for f in inputs.features)
        windows.append(WindowQuality(index, start, end, slot.inferences, duplicates, features))
    return windows


def range_bounds(
    reference: Counts, quantile: float, levels: Sequence[float]
) -> tuple[float, float]:
    """The reference range a value must fall in: [min, max], or the quantiles nearest to
    [quantile, 1 - quantile] among `levels` when `quantile` > 0."""
    if quantile <= 0 or not reference.quantiles:
        return reference.minimum, reference.maximum
    lo = min(range(len(levels)), key=lambda i: abs(levels[i] - quantile))
    hi = min(range(len(levels)), key=lambda i: abs(levels[i] - (1 - quantile)))
    return reference.quantiles[lo], reference.quantiles[hi]
