"""`measure(rule) → value | None`, backed by the same analytics the query API answers with.

    drift_share      share of drifted features: current = last `window`, reference = the
                     `reference_s` span just before it (same version on both sides if set)
    feature_score    that feature's drift score (its default method, or the rule's `method`)
    latency_p99_ms   exact p99 of the inference duration over the last `window`, in ms
    error_rate       share of inferences with status Error over the last `window`
    burn_rate        the SLO's burn rate over the `window` pair: min(long, short), so the
                     value exceeds a threshold only when both windows do (SRE multi-window)
    quality.*        that check's share for `feature` (or the largest over the features),
                     over the drift windows (query.quality.data_quality)
    multivariate.error  the mean PCA reconstruction error of the current window

None means "no data" (an empty window, an unknown model): the state machine then changes
nothing. Every thread gets its own ClickHouse client (clickhouse-connect asks for that).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import DriftRequest, EmptyWindowError, Window
from driftline.config.alerts import QUALITY_KINDS, AlertRule
from driftline.config.model import SloConfig
from driftline.errors import InvalidInputError, NotFoundError
from driftline.query import latency as latency_mod
from driftline.query import quality
from driftline.query.drift import drift_report
from driftline.storage.latency_sql import Range
from driftline.storage.quality_sql import Scope

S: Final = 10**9


class Measurer:
    def __init__(
        self,
        connect: Callable[[], Client],
        database: str,
        *,
        slos: Sequence[SloConfig] = (),
        reference_s: float = 86400.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._connect = connect
        self._database = database
        self._slos = list(slos)
        self._reference_s = reference_s
        self._clock_ns = clock_ns
        self._local = threading.local()

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._connect()
        return client

    def __call__(self, rule: AlertRule) -> float | None:
        try:
            return self._measure(rule)
        except (EmptyWindowError, NotFoundError):
            return None

    def _measure(self, rule: AlertRule) -> float | None:
        client, db, now = self._client(), self._database, self._clock_ns()
        if rule.kind == "burn_rate":
            slo = self._slo_for(rule)
            status = latency_mod.burn_rates(
                client, db,
                latency_mod.Slo(rule.model, slo.latency_s * 1000, slo.target,
                                rule.version or slo.version),
                now_ns=now,
            )  # fmt: skip
            (pair,) = (w for w in status.windows if w.name == rule.effective_window)
            return min(pair.long_burn, pair.short_burn)
        window_ns = int(rule.window_s() * S)
        if rule.kind in ("latency_p99_ms", "error_rate"):
            r = Range(now - window_ns, now, rule.version)
            (row,) = latency_mod.latency(client, db, rule.model, r, group_by=[])
            if row.count == 0:
                return None
            return row.p99_ms if rule.kind == "latency_p99_ms" else row.error_rate
        start = now - window_ns
        ref = Scope(start - int(self._reference_s * S), start, rule.version)
        cur = Scope(start, now, rule.version)
        if rule.kind in QUALITY_KINDS:
            return _quality_value(client, db, rule, ref, cur)
        if rule.kind == "multivariate.error":
            mv_request = quality.MultivariateRequest(rule.model, ref, cur, classifier=False)
            answer = quality.multivariate_drift(client, db, mv_request)
            return None if answer.no_data else answer.windows[-1].error.value
        request = DriftRequest(
            model=rule.model,
            reference=Window(start - int(self._reference_s * S), start, rule.version),
            current=Window(start, now, rule.version),
            features=(rule.feature,) if rule.kind == "feature_score" else (),
            method=rule.method,
            distributions=False,
        )
        report = drift_report(client, db, request)
        if rule.kind == "feature_score":
            return report.features[0].score if report.features else None
        return report.share_drifted

    def _slo_for(self, rule: AlertRule) -> SloConfig:
        candidates = [s for s in self._slos if s.model == rule.model]
        exact = [s for s in candidates if s.version == rule.version]
        if not (exact or candidates):
            raise InvalidInputError(f"no objective for {rule.model!r} in analysis.slos")
        return (exact or candidates)[0]


def _quality_value(
    client: Client, db: str, rule: AlertRule, ref: Scope, cur: Scope
) -> float | None:
    features = (rule.feature,) if rule.feature else ()
    answer = quality.data_quality(
        client, db, quality.QualityRequest(rule.model, ref, cur, features=features)
    )
    if answer.no_data:
        return None
    check = rule.kind.removeprefix("quality.")
    values = [
        c.value
        for f in answer.windows[-1].features
        if (c := f.check(check)) is not None and not math.isnan(c.value)
    ]
    return max(values) if values else None
