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

from driftline.analysis.drift import DriftRequest, Window
from driftline.config.derived import DerivedConfig
from driftline.config.model import SloConfig
from driftline.export.derived.types import (
    DriftSnapshot,
    FeatureScore,
    LatencySnapshot,
    SloBurn,
)
from driftline.query import latency as latency_mod
from driftline.query.drift import drift_report
from driftline.storage import derived_rows
from driftline.storage.latency_sql import QUANTILES, Range

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
