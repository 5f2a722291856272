"""A drift question: plan → statements → rows → answer (`drift_reports`, `drift_report`).

    1. stats    always: kinds, counts, capped distinct counts, min/max, moments per side
    2. counts   features with one bin per value (categorical, ≤ 20 reference uniques)
    3. plan     methods per (feature, window) and the statements each feature needs
                (analysis/drift/plan.py, pure)
    4. fetch    only those statements: quantile W1 (+ its plot bins), Sturges bins, W1/KS D,
                raw values (storage/drift_rows.py)
    5. score    analysis/drift/score.py, pure: one `DriftReport` per current window

Cost: exact W1 needs every value of both sides sorted; for 20 features × 1M+1M rows that is
about 2.5 s of CPU on this machine class whatever does the sorting (the engine or numpy),
which keeps the default report above 1 s on 2 cores. Fixed-bin W1 (NannyML's way) would be one
scan but not Evidently's score. ClickHouse's own kolmogorovSmirnovTest / mannWhitneyUTest /
studentTTest are not used: scipy computes the figures from the same aggregates, so they match.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import plan as planner
from driftline.analysis.drift.aggregates import REF, Aggregates, BinSpec, n_sides
from driftline.analysis.drift.score import score_windows, window_bounds
from driftline.analysis.drift.thresholds import chunk_thresholds
from driftline.analysis.drift.types import DriftReport, DriftRequest
from driftline.errors import InvalidInputError, PermanentError
from driftline.query import drift_windows, references
from driftline.query.drift_windows import Chosen, WindowAsk
from driftline.query.latency import require_model
from driftline.storage import drift_rows
from driftline.storage.drift_sql import Scope, rows_apart


@dataclass(frozen=True)
class DriftQuestion:
    """A drift question as the API receives it: `request` carries everything but the windows,
    which are asked for (and defaulted, query/drift_windows.py) here."""

    request: DriftRequest
    current: WindowAsk = field(default_factory=WindowAsk)
    reference: WindowAsk = field(default_factory=WindowAsk)
    saved_reference: str = ""
    threshold_mode: str = "fixed"  # or "reference": NannyML's chunk thresholds
    reference_chunks: int = 10


@dataclass(frozen=True)
class DriftAnswer:
    reports: list[DriftReport]
    windows: Chosen  # the windows compared, and how the reference was chosen


def answer(
    client: Client, database: str, q: DriftQuestion, now_ns: int | None = None
) -> DriftAnswer:
    """Windows (with their defaults), thresholds (fixed or learned), then `drift_reports`."""
    if not q.request.model:
        raise InvalidInputError("model is required")
    model = q.request.model
    require_model(client, database, model)
    chosen = choose_windows(client, database, q, time.time_ns() if now_ns is None else now_ns)
    req = replace(q.request, reference=chosen.reference, current=chosen.current)
    if q.threshold_mode == "reference":
        if q.reference_chunks < 2:
            raise InvalidInputError("reference_chunks must be at least 2")
        learned = reference_thresholds(client, database, req, chunks=q.reference_chunks)
        req = replace(req, feature_thresholds={**learned, **req.feature_thresholds})
    elif q.threshold_mode not in ("", "fixed"):
        raise InvalidInputError(
            f"threshold_mode must be fixed or reference, not {q.threshold_mode!r}"
        )
    return DriftAnswer(drift_reports(client, database, req), chosen)


def choose_windows(client: Client, database: str, q: DriftQuestion, now_ns: int) -> Chosen:
    current = drift_windows.current_window(q.current, now_ns, q.request.window_s)
    if q.saved_reference:
        saved = references.get_reference(client, database, q.request.model, q.saved_reference)
        chosen = Chosen(saved.window, current, f"saved reference {q.saved_reference}")
    else:
        found = drift_windows.given_reference(q.reference, current)
        if found is None and current.end_ns > current.start_ns:
            before = drift_windows.before_window(q.reference, current)
            n_before, n_current, median = drift_rows.recent_split(
                client, database, q.request.model, before.start_ns, current, q.reference.version
            )
            found = drift_windows.from_data(q.reference, current, n_before, n_current, median)
        chosen = found or Chosen(drift_windows.before_window(q.reference, current), current, "")
    drift_windows.check(chosen)
    return chosen


def drift_reports(client: Client, database: str, req: DriftRequest) -> list[DriftReport]:
    """Drift of every current window (one unless `req.window_s`) against the reference."""
    scope = Scope(database, req.model, req.reference, req.current, req.features, req.window_s)
    k = n_windows(req)
    return score_windows(req, *_plan_and_fetch(client, scope, req, k), window_bounds(req, k))


def drift_report(client: Client, database: str, req: DriftRequest) -> DriftReport:
    """Drift of the whole current window against the reference (ignores `window_s`)."""
    if req.window_s:
        raise InvalidInputError("drift_report takes one current window; use drift_reports")
    return drift_reports(client, database, req)[0]


def n_windows(req: DriftRequest) -> int:
    if req.window_s <= 0:
        return 1
    return max(1, math.ceil((req.current.end_ns - req.current.start_ns) / (req.window_s * 1e9)))


def reference_thresholds(
    client: Client, database: str, req: DriftRequest, chunks: int = 10, multiplier: float = 3.0
) -> dict[str, float]:
    """NannyML-style thresholds: each feature's reference values cut into `chunks` chunks of
    equal row count in time order (NannyML's CountBasedChunker; the n % chunks values left over
    join the last chunk — incomplete='append' — because a chunk of a few values would dominate
    the spread), every chunk scored against the whole reference with the request's methods,
    then mean + k·std (distances) or mean − k·std (p-values) of the chunk scores (ddof 0).
    Pass the result as `feature_thresholds` of a later request."""
    scope = Scope(database, req.model, req.reference, req.reference, req.features, chunks=chunks)
    chunked = replace(req, current=req.reference, window_s=0)
    plan, agg = _plan_and_fetch(client, scope, chunked, None)
    for f in plan.features:
        n = agg.stats[f][REF].n
        if n < chunks:
            raise PermanentError(
                f"feature {f!r} has {n} reference values, fewer than {chunks} chunks: "
                "use fewer reference chunks or a longer reference"
            )
    reports = score_windows(chunked, plan, agg, [(0, 0)] * plan.n_windows)
    return chunk_thresholds(reports, multiplier)


def _plan_and_fetch(
    client: Client, scope: Scope, req: DriftRequest, k: int | None
) -> tuple[planner.DriftPlan, Aggregates]:
    """Steps 1–4: stats and counts, the plan, then only the statements it names.
    `k` None: the number of current sides follows from the stats (reference chunks)."""
    agg = Aggregates(drift_rows.stats(client, scope))
    k = n_sides(agg.stats) if k is None else k
    features = planner.present_features(req, agg.stats, k)
    low = planner.low_cardinality(features, agg.stats)
    if low:
        kinds = {f: agg.stats[f][REF].kind for f in low}
        agg.counts = drift_rows.counts(client, scope.only(sorted(low)), kinds)
    apart = not scope.windowed and rows_apart(scope.reference, scope.current)
    plan = planner.plan(req, agg.stats, agg.counts, features, low, k, apart)
    specs = {key: BinSpec.of(e) for key, e in plan.edges.items()}
    if plan.hist:
        agg.bins.update(drift_rows.bins(client, scope.only(plan.hist), k, specs))
    if plan.quantile_w1:
        w1, found = drift_rows.w1_quantile(
            client, scope.only(plan.quantile_w1), [specs.get((f, 0)) for f in plan.quantile_w1]
        )
        agg.w1.update(w1)
        agg.bins.update(found)
    if plan.w1ks:
        agg.w1.update(drift_rows.w1ks(client, scope.only(plan.w1ks)))
    if plan.raw:
        agg.raw = drift_rows.values(client, scope.only(plan.raw), k)
    return plan, agg
