"""Latency questions: percentiles by model/version/span/bucket, SLO burn rates, version
regression — request checks, storage/latency_rows.py's figures, analysis/latency.py's math."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.latency import (
    LatencyRow,
    Regression,
    Slo,
    SloStatus,
    burn_windows,
    slo_status,
)
from driftline.analysis.latency import regression as regression_from
from driftline.config.model import SloConfig
from driftline.errors import EmptyWindowError, InvalidInputError, NotFoundError
from driftline.storage import latency_rows
from driftline.storage.latency_sql import GROUP_COLUMNS, Range

GROUPS: Final = (*GROUP_COLUMNS, "bucket")

__all__ = ["GROUPS", "LatencyRow", "Range", "Regression", "Slo", "SloStatus", "burn_rates",
           "choose_slo", "latency", "regression", "require_model"]  # fmt: skip


def choose_slo(
    model: str, threshold_ms: float, target: float, version: str,
    configured: Sequence[SloConfig] = (),
) -> Slo | None:  # fmt: skip
    """The objective of a latency question: the request's (threshold and target both set), else
    the model's `analysis.slos` entry, else none."""
    if threshold_ms > 0 and target > 0:
        return Slo(model, threshold_ms, target, version)
    found = next((s for s in configured if model and s.model == model), None)
    if found is None:
        return None
    return Slo(found.model, found.latency_s * 1000, found.target, found.version)


def require_model(client: Client, database: str, model: str) -> None:
    """NotFoundError unless the model has inferences stored."""
    if not latency_rows.model_exists(client, database, model):
        raise NotFoundError(f"unknown model {model!r}: no inferences stored")


def latency(
    client: Client, database: str, model: str, r: Range,
    group_by: Sequence[str] = ("model", "version"), bucket_s: int = 60,
) -> list[LatencyRow]:  # fmt: skip
    unknown = set(group_by) - set(GROUPS)
    if unknown:
        raise InvalidInputError(f"cannot group by {sorted(unknown)}; use {', '.join(GROUPS)}")
    if r.end_ns <= r.start_ns:
        raise InvalidInputError("the time range is empty (end <= start)")
    if "bucket" in group_by and bucket_s <= 0:
        raise InvalidInputError("bucket_seconds must be > 0")
    rows = latency_rows.latency_rows(client, database, model, r, group_by, bucket_s)
    if not rows and model:
        require_model(client, database, model)
        raise EmptyWindowError(f"no inferences of {model!r} in this time range")
    return rows


def burn_rates(client: Client, database: str, slo: Slo, now_ns: int | None = None) -> SloStatus:
    if not 0 < slo.target < 1:
        raise InvalidInputError("an SLO target must be between 0 and 1, e.g. 0.99")
    require_model(client, database, slo.model)
    now_ns = time.time_ns() if now_ns is None else now_ns
    totals, bads = latency_rows.burn_counts(
        client, database, slo.model, slo.version, int(slo.threshold_ms * 1e6), now_ns,
        burn_windows(),
    )  # fmt: skip
    return slo_status(slo, totals, bads)


def regression(
    client: Client, database: str, model: str, r: Range, baseline: str, candidate: str,
    alpha: float = 0.05,
) -> Regression:  # fmt: skip
    require_model(client, database, model)
    samples = latency_rows.version_samples(client, database, model, r, baseline, candidate)
    for version, n in ((baseline, samples.n_baseline), (candidate, samples.n_candidate)):
        if not n:
            raise EmptyWindowError(f"no inferences of {model!r} version {version!r} in range")
    return regression_from(baseline, candidate, samples, alpha)
