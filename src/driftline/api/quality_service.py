"""`driftline.v1.QualityService` (grpc.aio): GetDataQuality, GetMultivariateDrift.

Thin like QueryService: the request becomes a query.quality request, its windows chosen exactly
as drift chooses them for the same flags (query/drift_windows.py: the last hour; the 24 hours
before it, or the current range for another version, or the earlier half of the current hour
on fresh data); the query runs on an EnginePool worker within the server's statement
time limit; the answer becomes a response. Numbers that are not finite go out as 0 with a
`has_*` flag false, so JSON stays numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeVar

import grpc
from clickhouse_connect.driver.client import Client

from driftline.analysis import quality as dq
from driftline.analysis.drift import DriftRequest, Window
from driftline.api._gen.driftline.v1 import quality_pb2, quality_pb2_grpc, query_pb2
from driftline.api.engine import EnginePool
from driftline.api.query_service import call_rpc, time_limit
from driftline.config.model import QueryConfig
from driftline.errors import InvalidInputError
from driftline.query import quality as q
from driftline.query.drift import DriftQuestion, choose_windows
from driftline.query.drift_windows import WindowAsk
from driftline.storage.quality_sql import QUANTILE_LEVELS, Scope

SERVICE_NAME = quality_pb2.DESCRIPTOR.services_by_name["QualityService"].full_name
_WORKERS: Final = 2
_CHECKS: Final = (dq.MISSING, dq.MISMATCH, dq.UNSEEN, dq.OUT_OF_RANGE, dq.CONSTANT, dq.DUPLICATES)
R = TypeVar("R")


def _finite(x: float | None) -> float:
    return x if x is not None and math.isfinite(x) else 0.0


def _ask(spec: query_pb2.DriftWindowSpec) -> WindowAsk:
    return WindowAsk(spec.range.start_unix_nano, spec.range.end_unix_nano, spec.version)


def scopes(
    client: Client,
    database: str,
    model: str,
    reference: query_pb2.DriftWindowSpec,
    current: query_pb2.DriftWindowSpec,
    window_s: int,
    now_ns: int,
) -> tuple[Scope, Scope]:
    """The windows drift would compare for the same flags (query/drift_windows.py)."""
    question = DriftQuestion(
        request=DriftRequest(model=model, reference=Window(0, 0), current=Window(0, 0),
                             window_s=window_s),
        current=_ask(current), reference=_ask(reference),
        saved_reference=reference.saved_reference,
    )  # fmt: skip
    chosen = choose_windows(client, database, question, now_ns)
    r, c = chosen.reference, chosen.current
    return Scope(r.start_ns, r.end_ns, r.version, r.snapshot), Scope(
        c.start_ns, c.end_ns, c.version
    )


def quality_request(
    request: quality_pb2.GetDataQualityRequest, ref: Scope, cur: Scope, timeout_s: float
) -> q.QualityRequest:
    mode = request.threshold_mode or "reference"
    if mode not in ("reference", "fixed"):
        raise InvalidInputError(f"threshold_mode must be reference or fixed, not {mode!r}")
    named = {*request.thresholds} | {
        c for t in request.feature_thresholds.values() for c in t.thresholds
    }
    unknown = sorted(named - set(_CHECKS))  # (`a | b - c` would subtract from b only)
    if unknown:
        raise InvalidInputError(f"unknown check(s) {unknown}; the checks: {', '.join(_CHECKS)}")
    if request.range_quantile and request.range_quantile not in QUANTILE_LEVELS[:2]:
        raise InvalidInputError("range_quantile must be 0 (min/max), 0.01 or 0.05")
    options = dq.QualityOptions(
        threshold_mode=mode,
        thresholds=dict(request.thresholds),
        feature_thresholds={f: dict(t.thresholds) for f, t in request.feature_thresholds.items()},
    )
    return q.QualityRequest(
        model=request.model, reference=ref, current=cur, features=tuple(request.features),
        window_ns=request.window_seconds * 10**9,
        reference_chunks=request.reference_chunks or q.DEFAULT_CHUNKS,
        range_quantile=request.range_quantile, options=options, timeout_s=timeout_s,
    )  # fmt: skip


def check_message(check: dq.Check) -> quality_pb2.QualityCheck:
    return quality_pb2.QualityCheck(
        name=check.name, value=_finite(check.value), has_value=math.isfinite(check.value),
        lower=_finite(check.lower), has_lower=check.lower is not None,
        upper=_finite(check.upper), has_upper=check.upper is not None, alert=check.alert,
    )  # fmt: skip


def summary_message(s: dq.Summary | None) -> quality_pb2.FeatureSummary:
    if s is None:
        return quality_pb2.FeatureSummary()
    return quality_pb2.FeatureSummary(
        count=s.count, mean=_finite(s.mean), std=_finite(s.std), min=_finite(s.minimum),
        max=_finite(s.maximum), quantiles=[_finite(v) for v in s.quantiles], distinct=s.distinct,
    )  # fmt: skip


def _categories(pairs: Sequence[tuple[str, int]]) -> list[quality_pb2.CategoryCount]:
    return [quality_pb2.CategoryCount(category=c, rows=n) for c, n in pairs]


def quality_response(answer: q.QualityAnswer) -> quality_pb2.GetDataQualityResponse:
    response = quality_pb2.GetDataQualityResponse(
        model=answer.model, reference_inferences=answer.reference_inferences,
        reference_chunks=answer.reference_chunks, quantile_levels=list(QUANTILE_LEVELS),
        flagged=answer.flagged, no_data=answer.no_data,
    )  # fmt: skip
    reference: Mapping[str, dq.Summary] = answer.reference
    for w in answer.windows:
        out = response.windows.add(
            start_unix_nano=w.start_ns, end_unix_nano=w.end_ns, inferences=w.inferences,
            duplicates=check_message(w.duplicates), flagged_features=list(w.flagged_features),
            flagged=w.flagged,
        )  # fmt: skip
        for f in w.features:
            out.features.add(
                feature=f.feature, kind=f.kind, flagged=f.flagged,
                checks=[check_message(c) for c in f.checks],
                current=summary_message(f.summary),
                reference=summary_message(reference.get(f.feature)),
                new_categories=_categories(f.new_categories),
                absent_categories=_categories(f.absent_categories),
            )  # fmt: skip
    return response


def multivariate_response(answer: q.MultivariateAnswer) -> quality_pb2.GetMultivariateDriftResponse:
    first = answer.reference_chunks[0] if answer.reference_chunks else None
    response = quality_pb2.GetMultivariateDriftResponse(
        model=answer.model, numerical_features=list(answer.numerical),
        categorical_features=list(answer.categorical), components=answer.components,
        reference_rows=answer.reference_rows,
        reference_chunk_errors=[_finite(c.value) for c in answer.reference_chunks],
        lower_threshold=_finite(first.lower if first else None),
        upper_threshold=_finite(first.upper if first else None),
        drifted=answer.drifted, no_data=answer.no_data,
    )  # fmt: skip
    for w in answer.windows:
        response.windows.add(
            start_unix_nano=w.start_ns, end_unix_nano=w.end_ns, rows=w.rows,
            reconstruction_error=_finite(w.error.value),
            sampling_error=_finite(w.error.sampling_error),
            lower_threshold=_finite(w.error.lower), upper_threshold=_finite(w.error.upper),
            alert=w.error.alert, classifier_auroc=_finite(w.classifier_auroc),
            has_classifier=math.isfinite(w.classifier_auroc), classifier_alert=w.classifier_alert,
        )  # fmt: skip
    return response


def quality_answer(
    client: Client, database: str, request: quality_pb2.GetDataQualityRequest, timeout_s: float
) -> quality_pb2.GetDataQualityResponse:
    q.require_model(client, database, request.model)
    ref, cur = scopes(
        client, database, request.model, request.reference, request.current,
        request.window_seconds, time.time_ns(),
    )  # fmt: skip
    answer = q.data_quality(client, database, quality_request(request, ref, cur, timeout_s))
    return quality_response(answer)


def multivariate_answer(
    client: Client,
    database: str,
    request: quality_pb2.GetMultivariateDriftRequest,
    timeout_s: float,
) -> quality_pb2.GetMultivariateDriftResponse:
    q.require_model(client, database, request.model)
    ref, cur = scopes(
        client, database, request.model, request.reference, request.current,
        request.window_seconds, time.time_ns(),
    )  # fmt: skip
    mv_request = q.MultivariateRequest(
        model=request.model, reference=ref, current=cur, features=tuple(request.features),
        window_ns=request.window_seconds * 10**9,
        reference_chunks=request.reference_chunks or q.DEFAULT_CHUNKS,
        max_rows=request.max_rows or q.DEFAULT_SAMPLE_ROWS, seed=request.seed or 16,
        classifier=not request.skip_classifier, timeout_s=timeout_s,
    )  # fmt: skip
    return multivariate_response(q.multivariate_drift(client, database, mv_request))


class QualityServicer(quality_pb2_grpc.QualityServiceServicer):
    def __init__(
        self, config: QueryConfig, client_factory: Callable[[], Client], *, database: str
    ) -> None:
        self._config = config
        self._database = database
        self._pool = EnginePool(client_factory, workers=_WORKERS)

    def close(self) -> None:
        self._pool.close()

    async def _run(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        work: Callable[[Client, float], R],
    ) -> R:
        async def handle() -> R:
            timeout_s = time_limit(0, self._config.max_execution_time_s, context.time_remaining())
            return await self._pool.run(lambda client: work(client, timeout_s))

        return await call_rpc(method, context, handle)

    async def GetDataQuality(
        self, request: quality_pb2.GetDataQualityRequest, context: grpc.aio.ServicerContext
    ) -> quality_pb2.GetDataQualityResponse:
        return await self._run(
            "GetDataQuality",
            context,
            lambda c, t: quality_answer(c, self._database, request, t),
        )

    async def GetMultivariateDrift(
        self, request: quality_pb2.GetMultivariateDriftRequest, context: grpc.aio.ServicerContext
    ) -> quality_pb2.GetMultivariateDriftResponse:
        return await self._run(
            "GetMultivariateDrift",
            context,
            lambda c, t: multivariate_answer(c, self._database, request, t),
        )
