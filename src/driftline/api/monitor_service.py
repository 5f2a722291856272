"""GetLatency, GetDrift, GetPerformance, references: protobuf ↔ query/ types (pure mapping).

Each `*_answer(client, database, request)` runs on an EnginePool worker; the servicer in
query_service.py wraps it with limits, status codes and metrics like every other RPC.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import DriftRequest, Window
from driftline.api._gen.driftline.v1 import query_pb2
from driftline.config.model import SloConfig
from driftline.errors import InvalidInputError
from driftline.query import drift, references
from driftline.query import latency as latency_mod
from driftline.query.drift import DriftAnswer, DriftQuestion
from driftline.query.drift_windows import WindowAsk
from driftline.query.performance import accuracy_drift, performance
from driftline.storage.latency_sql import Range

HOUR_NS: Final = 3600 * 10**9


def _range(r: query_pb2.TimeRange, default_span_ns: int, now_ns: int) -> Range:
    end = r.end_unix_nano or now_ns
    start = r.start_unix_nano or end - default_span_ns
    return Range(start, end)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def latency_answer(
    client: Client,
    database: str,
    request: query_pb2.GetLatencyRequest,
    slos: Sequence[SloConfig] = (),
) -> query_pb2.GetLatencyResponse:
    now = time.time_ns()
    r = _range(request.range, HOUR_NS, now)
    group_by = list(request.group_by) or ["model", "version"]
    rows = latency_mod.latency(
        client, database, request.model, r, group_by, request.bucket_seconds or 60
    )
    response = query_pb2.GetLatencyResponse(
        groups=[
            query_pb2.LatencyGroup(
                keys={k: str(v) for k, v in row.keys.items()},
                count=row.count,
                error_rate=row.error_rate,
                p50_ms=row.p50_ms,
                p90_ms=row.p90_ms,
                p95_ms=row.p95_ms,
                p99_ms=row.p99_ms,
                max_ms=row.max_ms,
            )
            for row in rows
        ]
    )
    slo = latency_mod.choose_slo(
        request.model, request.slo_threshold_ms, request.slo_target, request.slo_version, slos
    )
    if slo is not None:
        status = latency_mod.burn_rates(client, database, slo, now_ns=r.end_ns)
        response.burn_rates.extend(
            query_pb2.BurnRate(
                window=w.name,
                long_seconds=w.long_s,
                short_seconds=w.short_s,
                factor=w.factor,
                long_burn=w.long_burn,
                short_burn=w.short_burn,
                alerting=w.alerting,
            )
            for w in status.windows
        )
        response.page, response.ticket = status.page, status.ticket
    if request.baseline_version and request.candidate_version:
        reg = latency_mod.regression(
            client, database, request.model, r, request.baseline_version,
            request.candidate_version,
        )  # fmt: skip
        response.regression.CopyFrom(
            query_pb2.VersionRegression(
                baseline=reg.baseline,
                candidate=reg.candidate,
                n_baseline=reg.n_baseline,
                n_candidate=reg.n_candidate,
                baseline_p50_ms=reg.p50_ms[0],
                candidate_p50_ms=reg.p50_ms[1],
                baseline_p99_ms=reg.p99_ms[0],
                candidate_p99_ms=reg.p99_ms[1],
                p_value=reg.p_value,
                cliffs_delta=reg.cliffs_delta,
                slower=reg.slower,
            )
        )
    return response


def _ask(spec: query_pb2.DriftWindowSpec) -> WindowAsk:
    r = spec.range
    return WindowAsk(r.start_unix_nano, r.end_unix_nano, spec.version)


def drift_question(request: query_pb2.GetDriftRequest) -> DriftQuestion:
    """The request as query/drift.py's question (windows still open: it applies defaults)."""
    unset = Window(0, 0)
    return DriftQuestion(
        request=DriftRequest(
            model=request.model,
            reference=unset,
            current=unset,
            features=tuple(request.features),
            method=request.method,
            threshold=request.threshold if request.HasField("threshold") else None,
            num_method=request.num_method,
            cat_method=request.cat_method,
            num_threshold=request.num_threshold if request.HasField("num_threshold") else None,
            cat_threshold=request.cat_threshold if request.HasField("cat_threshold") else None,
            feature_methods=dict(request.feature_methods),
            feature_thresholds=dict(request.feature_thresholds),
            drift_share=request.drift_share or 0.5,
            window_s=request.window_seconds,
        ),
        current=_ask(request.current),
        reference=_ask(request.reference),
        saved_reference=request.reference.saved_reference,
        threshold_mode=request.threshold_mode or "fixed",
        reference_chunks=request.reference_chunks or 10,
    )


def _bin_labels(edges: Sequence[float]) -> list[str]:
    """Sturges bins as text, e.g. "[0.12, 0.35)" (the last bin is closed)."""
    last = len(edges) - 2
    return [
        f"[{_short(a)}, {_short(b)}{']' if i == last else ')'}"
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    ]


def _short(x: float) -> str:
    return f"{x:.4g}"


def drift_response(model: str, answer: DriftAnswer) -> query_pb2.GetDriftResponse:
    reports, chosen = answer.reports, answer.windows
    share = reports[0].drift_share if reports else 0.5
    response = query_pb2.GetDriftResponse(
        model=model, drift_share=share,
        reference_range=query_pb2.TimeRange(
            start_unix_nano=chosen.reference.start_ns, end_unix_nano=chosen.reference.end_ns
        ),
        reference_version=chosen.reference.version,
        current_range=query_pb2.TimeRange(
            start_unix_nano=chosen.current.start_ns, end_unix_nano=chosen.current.end_ns
        ),
        current_version=chosen.current.version, reference_chosen=chosen.how,
    )  # fmt: skip
    for report in reports:
        out = response.windows.add(
            start_unix_nano=report.window_start_ns, end_unix_nano=report.window_end_ns,
            drifted_count=report.n_drifted, share=report.share_drifted,
            dataset_drift=report.dataset_drift, no_data=not report.features,
        )  # fmt: skip
        for f in report.features:
            d = f.distribution
            out.features.add(
                feature=f.feature, kind=f.kind, method=f.method, score=_finite(f.score),
                threshold=f.threshold, drifted=f.drifted, n_reference=f.n_ref,
                n_current=f.n_cur, bins=list(d.labels) or _bin_labels(d.edges),
                reference_shares=list(d.ref_shares), current_shares=list(d.cur_shares),
                bin_edges=list(d.edges),
            )  # fmt: skip
    return response


def drift_answer(
    client: Client, database: str, request: query_pb2.GetDriftRequest
) -> query_pb2.GetDriftResponse:
    return drift_response(request.model, drift.answer(client, database, drift_question(request)))


def saved_reference_message(ref: references.SavedReference) -> query_pb2.SavedReference:
    return query_pb2.SavedReference(
        name=ref.name, model=ref.model, version=ref.version, start_unix_nano=ref.start_ns,
        end_unix_nano=ref.end_ns, created_unix_nano=ref.created_ns, rows=ref.rows,
        inferences=ref.inferences, features=list(ref.features), description=ref.description,
    )  # fmt: skip


def save_reference_answer(
    client: Client, database: str, request: query_pb2.SaveReferenceRequest
) -> query_pb2.SavedReference:
    references.check_name(request.name)
    if not request.model:
        raise InvalidInputError("model is required")
    latency_mod.require_model(client, database, request.model)  # a clear NOT_FOUND first
    r = _range(request.window.range, 24 * HOUR_NS, time.time_ns())
    saved = references.save_reference(
        client, database, name=request.name, model=request.model,
        window=Window(r.start_ns, r.end_ns, request.window.version),
        features=list(request.features), description=request.description,
    )  # fmt: skip
    return saved_reference_message(saved)


def list_references_answer(
    client: Client, database: str, request: query_pb2.ListReferencesRequest
) -> query_pb2.ListReferencesResponse:
    found = references.list_references(client, database, request.model)
    return query_pb2.ListReferencesResponse(references=[saved_reference_message(r) for r in found])


def performance_answer(
    client: Client, database: str, request: query_pb2.GetPerformanceRequest
) -> query_pb2.GetPerformanceResponse:
    now = time.time_ns()
    r = _range(request.range, 24 * HOUR_NS, now)
    task = request.task or None
    if task not in (None, "classification", "regression"):
        raise InvalidInputError("task must be classification or regression")
    positive = request.positive_class or "1"
    found, rows = performance(
        client, database, request.model, r, group_by=list(request.group_by),
        bucket_s=request.bucket_seconds or 3600, positive=positive, task=task,  # type: ignore[arg-type]
    )  # fmt: skip
    response = query_pb2.GetPerformanceResponse(task=found)
    for row in rows:
        response.groups.add(
            keys={k: str(v) for k, v in row.keys.items()}, count=row.count, labelled=row.labelled,
            metrics={k: _finite(v) for k, v in row.metrics.items()},
            estimated={k: _finite(v) for k, v in row.estimated.items()},
        )  # fmt: skip
    if request.HasField("reference"):
        ref = _range(request.reference, 24 * HOUR_NS, r.start_ns)
        result = accuracy_drift(client, database, request.model, ref, r, positive)
        response.accuracy_drift.CopyFrom(
            query_pb2.AccuracyDrift(
                reference_accuracy=result.reference_accuracy,
                current_accuracy=result.current_accuracy,
                difference=result.difference,
                p_value=result.p_value,
            )
        )
    return response
