"""The analytics behind one derived-signal round, per model: the same functions the query API
answers with (query.drift, query.latency), so /metrics and GetDrift/GetLatency agree.

Windows end at the round's `now_ns`: latency over [now − latency_window, now), drift of
[now − drift.window, now) against the `drift.reference` span just before it, both per version.
An empty window raises EmptyWindowError, which the loop counts as a skip, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from clickhouse_connect.driver.client import Client

from driftline.analysis import quality as dq
from driftline.analysis.drift import DriftRequest, Window
from driftline.config.derived import DerivedConfig
from driftline.config.model import SloConfig
from driftline.export.derived.types import (
    DriftSnapshot,
    FeatureQualityPoint,
    FeatureScore,
    LatencySnapshot,
    MultivariateSnapshot,
    QualitySnapshot,
    SloBurn,
)
from driftline.query import latency as latency_mod
from driftline.query import quality as quality_query
from driftline.query.drift import drift_report
from driftline.storage import derived_rows
from driftline.storage.latency_sql import QUANTILES, Range
from driftline.storage.quality_sql import Scope

S: Final = 10**9


def recent_model_versions(
    client: Client, database: str, cfg: DerivedConfig, now_ns: int
) -> list[tuple[str, str]]:
    lookback_s = max(cfg.drift.window_s, cfg.latency_window_s)
    return derived_rows.recent_model_versions(
        client, database, now_ns - int(lookback_s * S), now_ns, cfg.models
    )


def latency_by_version(
    client: Client, database: str, model: str, cfg: DerivedConfig, now_ns: int
) -> dict[str, LatencySnapshot]:
    r = Range(now_ns - int(cfg.latency_window_s * S), now_ns)
    rows = latency_mod.latency(client, database, model, r, group_by=["version"])
    out = {}
    for row in rows:
        seconds = (row.p50_ms / 1e3, row.p90_ms / 1e3, row.p95_ms / 1e3, row.p99_ms / 1e3)
        out[str(row.keys["version"])] = LatencySnapshot(
            count=row.count,
            quantiles_s=tuple(zip(QUANTILES, seconds, strict=True)),
            error_rate=row.error_rate,
        )
    return out


def drift_request(
    model: str, version: str, cfg: DerivedConfig, now_ns: int, features: Sequence[str] = (),
    method: str = "",
) -> DriftRequest:  # fmt: skip
    start = now_ns - int(cfg.drift.window_s * S)
    return DriftRequest(
        model=model,
        reference=Window(start - int(cfg.drift.reference_s * S), start, version),
        current=Window(start, now_ns, version),
        features=tuple(features),
        method=method,
        drift_share=cfg.drift.drift_share,
        distributions=False,  # plots only: skip the extra pass
    )


def drift(
    client: Client, database: str, model: str, version: str, cfg: DerivedConfig, now_ns: int
) -> DriftSnapshot:
    report = drift_report(client, database, drift_request(model, version, cfg, now_ns))
    return DriftSnapshot(
        features=tuple(
            FeatureScore(f.feature, f.method, f.score, f.threshold, f.drifted)
            for f in report.features
        ),
        share=report.share_drifted,
        detected=report.dataset_drift,
    )


def slo_label(slo: SloConfig) -> str:
    return f"{slo.latency_s * 1000:g}ms@{slo.target:g}"


def _duration_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def burns(client: Client, database: str, slo: SloConfig, now_ns: int) -> list[SloBurn]:
    """One SloBurn per distinct window of the SRE pairs (5m, 30m, 1h, 6h, 3d)."""
    status = latency_mod.burn_rates(
        client,
        database,
        latency_mod.Slo(slo.model, slo.latency_s * 1000, slo.target, slo.version),
        now_ns=now_ns,
    )
    by_window: dict[int, float] = {}
    for w in status.windows:
        by_window[w.long_s], by_window[w.short_s] = w.long_burn, w.short_burn
    label = slo_label(slo)
    return [
        SloBurn(slo.model, slo.version, label, _duration_label(s), rate)
        for s, rate in sorted(by_window.items())
    ]


def _scopes(version: str, cfg: DerivedConfig, now_ns: int) -> tuple[Scope, Scope]:
    """The drift windows: the last `drift.window`, and the `drift.reference` span before it."""
    start = now_ns - int(cfg.drift.window_s * S)
    return Scope(start - int(cfg.drift.reference_s * S), start, version), Scope(
        start, now_ns, version
    )


def _check_value(feature: dq.FeatureQuality, name: str) -> float:
    check = feature.check(name)
    return check.value if check is not None else float("nan")


def quality(
    client: Client, database: str, model: str, version: str, cfg: DerivedConfig, now_ns: int
) -> QualitySnapshot | None:
    """The current drift window's data quality; None when it has no inferences."""
    ref, cur = _scopes(version, cfg, now_ns)
    answer = quality_query.data_quality(
        client, database, quality_query.QualityRequest(model, ref, cur)
    )
    if answer.no_data:
        return None
    window = answer.windows[-1]
    return QualitySnapshot(
        features=tuple(
            FeatureQualityPoint(
                f.feature,
                _check_value(f, dq.MISSING),
                _check_value(f, dq.UNSEEN),
                _check_value(f, dq.OUT_OF_RANGE),
                f.flagged,
            )
            for f in window.features
        ),
        flagged=window.flagged,
    )


def multivariate(
    client: Client, database: str, model: str, version: str, cfg: DerivedConfig, now_ns: int
) -> MultivariateSnapshot | None:
    """The current drift window's reconstruction error; None when it has no inferences."""
    ref, cur = _scopes(version, cfg, now_ns)
    request = quality_query.MultivariateRequest(model, ref, cur, classifier=False)
    answer = quality_query.multivariate_drift(client, database, request)
    if answer.no_data:
        return None
    error = answer.windows[-1].error
    upper = error.upper if error.upper is not None else float("nan")
    return MultivariateSnapshot(error.value, upper, error.alert)
