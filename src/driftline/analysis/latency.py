"""Latency answers: percentiles by model/version/span/bucket, SLO burn rates, version regression.

Percentiles are exact (`quantilesExactInclusive`: linear interpolation between order statistics,
numpy's default). Burn rate = (bad / total) / (1 − target) over the Google SRE workbook's window
pairs (anchors-ml.md §5): 1h & 5m at 14.4× and 6h & 30m at 6× page, 3d & 6h at 1× makes a
ticket; a pair alerts when both of its windows exceed its factor. A regression between two
versions is a two-sided Mann-Whitney U test on their durations, with Cliff's delta as the
effect size (positive: the candidate is slower).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import EmptyWindowError
from driftline.errors import InvalidInputError, NotFoundError
from driftline.storage import latency_sql
from driftline.storage.client import qualify
from driftline.storage.latency_sql import GROUP_COLUMNS, Range

GROUPS: Final = (*GROUP_COLUMNS, "bucket")
# (name, long window s, short window s, factor)
BURN_PAIRS: Final = (("1h", 3600, 300, 14.4), ("6h", 21600, 1800, 6.0), ("3d", 259200, 21600, 1.0))


@dataclass(frozen=True)
class LatencyRow:
    keys: dict[str, Any]
    count: int
    error_rate: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Slo:
    model: str
    threshold_ms: float
    target: float  # e.g. 0.99 of requests good
    version: str = ""


@dataclass(frozen=True)
class BurnWindow:
    name: str
    long_s: int
    short_s: int
    factor: float
    long_burn: float
    short_burn: float

    @property
    def alerting(self) -> bool:
        return self.long_burn > self.factor and self.short_burn > self.factor


@dataclass(frozen=True)
class SloStatus:
    slo: Slo
    windows: list[BurnWindow] = field(default_factory=list)

    @property
    def page(self) -> bool:
        return any(w.alerting for w in self.windows if w.factor > 1)

    @property
    def ticket(self) -> bool:
        return any(w.alerting for w in self.windows if w.factor <= 1)


@dataclass(frozen=True)
class Regression:
    baseline: str
    candidate: str
    n_baseline: int
    n_candidate: int
    p50_ms: tuple[float, float]
    p99_ms: tuple[float, float]
    p_value: float
    cliffs_delta: float
    slower: bool


def latency(
    client: Client,
    database: str,
    model: str,
    r: Range,
    group_by: Sequence[str] = ("model", "version"),
    bucket_s: int = 60,
) -> list[LatencyRow]:
    unknown = set(group_by) - set(GROUPS)
    if unknown:
        raise InvalidInputError(f"cannot group by {sorted(unknown)}; use {', '.join(GROUPS)}")
    if r.end_ns <= r.start_ns:
        raise InvalidInputError("the time range is empty (end <= start)")
    if "bucket" in group_by and bucket_s <= 0:
        raise InvalidInputError("bucket_seconds must be > 0")
    sql, params = latency_sql.latency(model, r, list(group_by), bucket_s)
    result = client.query(qualify(sql, database), parameters=params)
    names = list(result.column_names)
    rows = []
    for row in result.result_rows:
        values = dict(zip(names, row, strict=True))
        p50, p90, p95, p99 = (float(x) / 1e6 for x in values["q"])
        rows.append(
            LatencyRow(
                keys={k: values[k] for k in group_by},
                count=int(values["n"]),
                error_rate=float(values["error_rate"]),
                p50_ms=p50,
                p90_ms=p90,
                p95_ms=p95,
                p99_ms=p99,
                max_ms=float(values["max_ns"]) / 1e6,
            )
        )
    if not rows and model:
        _require_model(client, database, model)
        raise EmptyWindowError(f"no inferences of {model!r} in this time range")
    return rows


def burn_rates(client: Client, database: str, slo: Slo, now_ns: int | None = None) -> SloStatus:
    if not 0 < slo.target < 1:
        raise InvalidInputError("an SLO target must be between 0 and 1, e.g. 0.99")
    _require_model(client, database, slo.model)
    now_ns = time.time_ns() if now_ns is None else now_ns
    windows = sorted({s for _, lng, sht, _ in BURN_PAIRS for s in (lng, sht)})
    sql, params = latency_sql.burn_rates(
        slo.model, slo.version, int(slo.threshold_ms * 1e6), now_ns, windows
    )
    total, bad = client.query(qualify(sql, database), parameters=params).result_rows[0]
    burn = {
        w: (b / t) / (1 - slo.target) if t else 0.0
        for w, t, b in zip(windows, total, bad, strict=True)
    }
    return SloStatus(
        slo, [BurnWindow(n, lng, sht, f, burn[lng], burn[sht]) for n, lng, sht, f in BURN_PAIRS]
    )


def regression(
    client: Client,
    database: str,
    model: str,
    r: Range,
    baseline: str,
    candidate: str,
    alpha: float = 0.05,
) -> Regression:
    _require_model(client, database, model)
    sql, params = latency_sql.version_regression(model, r, baseline, candidate)
    n_b, n_c, q_b, q_c, mw = client.query(qualify(sql, database), parameters=params).result_rows[0]
    u, p = (mw["u_statistic"], mw["p_value"]) if isinstance(mw, dict) else mw
    for version, n in ((baseline, n_b), (candidate, n_c)):
        if not n:
            raise EmptyWindowError(f"no inferences of {model!r} version {version!r} in range")
    # ClickHouse's U counts pairs where the first sample (index 0: baseline) is larger; Cliff's
    # delta P(cand > base) - P(cand < base) follows from it (ties split evenly).
    delta = 1 - 2 * float(u) / (int(n_b) * int(n_c))
    return Regression(
        baseline, candidate, int(n_b), int(n_c),
        (float(q_b[0]) / 1e6, float(q_c[0]) / 1e6), (float(q_b[1]) / 1e6, float(q_c[1]) / 1e6),
        float(p), delta, bool(float(p) < alpha and delta > 0),
    )  # fmt: skip


def _require_model(client: Client, database: str, model: str) -> None:
    sql, params = latency_sql.model_exists(model)
    if not client.query(qualify(sql, database), parameters=params).result_rows[0][0]:
        raise NotFoundError(f"unknown model {model!r}: no inferences stored")
