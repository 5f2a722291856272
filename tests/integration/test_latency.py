"""Latency answers on the real engine against numpy/scipy on durations built here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from scipy import stats

from driftline.errors import InvalidInputError, NotFoundError
from driftline.query.latency import Slo, burn_rates, latency, regression
from driftline.storage.latency_sql import Range
from tests.engine_db import fresh_database

NOW = time.time_ns()
MIN = 60 * 10**9
rng = np.random.default_rng(7)
V1 = (rng.lognormal(np.log(20e6), 0.4, 3000)).astype(np.int64)  # ~20 ms
V2 = (rng.lognormal(np.log(24e6), 0.4, 2000)).astype(np.int64)  # ~24 ms: slower
AGES = {"v1": rng.integers(0, 120 * MIN, V1.size), "v2": rng.integers(0, 120 * MIN, V2.size)}
ERRORS = {"v1": rng.random(V1.size) < 0.01, "v2": rng.random(V2.size) < 0.05}


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "lat") as (client, target):
        rows = []
        for version, durations in (("v1", V1), ("v2", V2)):
            for d, age, err in zip(durations, AGES[version], ERRORS[version], strict=True):
                rows.append([NOW - int(age), version, int(d), "Error" if err else "Ok"])
        client.command("CREATE TEMPORARY TABLE lat_staging (t Int64, v String, d UInt64, s String)")
        client.insert("lat_staging", rows, column_names=["t", "v", "d", "s"])
        client.command(
            f"INSERT INTO {target.database}.ml_inferences (Timestamp, ModelName, ModelVersion, "
            "SpanName, Duration, StatusCode) SELECT fromUnixTimestamp64Nano(t), 'm', v, "
            "'predict', d, s FROM lat_staging"
        )
        yield client, target.database


ALL = Range(NOW - 200 * MIN, NOW + 1)


def test_percentiles_equal_numpys(db: tuple[Client, str]) -> None:
    rows = latency(*db, "m", ALL, group_by=["version"])
    by_version = {r.keys["version"]: r for r in rows}
    for version, durations in (("v1", V1), ("v2", V2)):
        row = by_version[version]
        expected = np.percentile(durations, [50, 90, 95, 99]) / 1e6
        assert [row.p50_ms, row.p90_ms, row.p95_ms, row.p99_ms] == pytest.approx(
            expected, rel=1e-12
        )
        assert row.max_ms == durations.max() / 1e6 and row.count == durations.size
        assert row.error_rate == pytest.approx(ERRORS[version].mean())


def test_buckets_and_model_grouping(db: tuple[Client, str]) -> None:
    rows = latency(*db, "m", ALL, group_by=["model", "bucket"], bucket_s=3600)
    assert sum(r.count for r in rows) == V1.size + V2.size
    assert all(r.keys["model"] == "m" for r in rows)
    stamps = np.concatenate([NOW - AGES["v1"], NOW - AGES["v2"]])
    durations = np.concatenate([V1, V2])
    hours = stamps // (3600 * 10**9) * 3600 * 10**9
    for row in rows:
        mask = hours == row.keys["bucket"]
        assert row.count == mask.sum()
        assert row.p99_ms == pytest.approx(np.percentile(durations[mask], 99) / 1e6, rel=1e-12)


def test_burn_rates_equal_a_hand_computation(db: tuple[Client, str]) -> None:
    slo = Slo(model="m", threshold_ms=30.0, target=0.99)
    status = burn_rates(*db, slo, now_ns=NOW)
    durations = np.concatenate([V1, V2])
    ages = np.concatenate([AGES["v1"], AGES["v2"]])
    bad = (durations > 30e6) | np.concatenate([ERRORS["v1"], ERRORS["v2"]])
    for window in status.windows:
        for seconds, got in (
            (window.long_s, window.long_burn),
            (window.short_s, window.short_burn),
        ):
            inside = ages <= seconds * 10**9
            assert got == pytest.approx(bad[inside].mean() / 0.01, rel=1e-9)
    one_hour = status.windows[0]
    assert one_hour.alerting == (one_hour.long_burn > 14.4 and one_hour.short_burn > 14.4)
    assert status.page == any(w.alerting for w in status.windows[:2])


def test_version_regression_matches_scipy(db: tuple[Client, str]) -> None:
    result = regression(*db, "m", ALL, baseline="v1", candidate="v2")
    expected = stats.mannwhitneyu(V1.astype(float), V2.astype(float), alternative="two-sided")
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)
    greater = (V2[:, None] > V1[None, :]).mean() - (V2[:, None] < V1[None, :]).mean()
    assert result.cliffs_delta == pytest.approx(greater, abs=1e-9)
    assert result.slower and result.p50_ms[1] > result.p50_ms[0]


def test_bad_requests(db: tuple[Client, str]) -> None:
    with pytest.raises(NotFoundError):
        burn_rates(*db, Slo(model="nope", threshold_ms=1, target=0.9))
    with pytest.raises(InvalidInputError, match="group by"):
        latency(*db, "m", ALL, group_by=["colour"])
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        burn_rates(*db, Slo(model="m", threshold_ms=1, target=99))
    with pytest.raises(NotFoundError):
        latency(*db, "nope", ALL)


def _insert(db: tuple[Client, str], model: str, samples: dict[str, np.ndarray]) -> None:
    client, database = db
    rows = [
        [NOW - 1000 - i, version, int(d), "Ok"]
        for version, durations in samples.items()
        for i, d in enumerate(durations)
    ]
    client.command("DROP TEMPORARY TABLE IF EXISTS lat_staging")
    client.command("CREATE TEMPORARY TABLE lat_staging (t Int64, v String, d UInt64, s String)")
    client.insert("lat_staging", rows, column_names=["t", "v", "d", "s"])
    client.command(
        f"INSERT INTO {database}.ml_inferences (Timestamp, ModelName, ModelVersion, SpanName, "
        f"Duration, StatusCode) SELECT fromUnixTimestamp64Nano(t), '{model}', v, 'predict', d, s "
        "FROM lat_staging"
    )


def test_regression_p_value_matches_scipy_where_the_engine_underflows(
    db: tuple[Client, str],
) -> None:
    """#11.7: a clearly slower candidate (p ≈ 1e-60, with tied durations): the engine's own
    p is 0; ours is scipy's two-sided mannwhitneyu p (normal approximation, tie and
    continuity corrected), from a survival function."""
    g = np.random.default_rng(5)
    base = np.round(g.lognormal(np.log(20e6), 0.3, 400), -5)  # 0.1 ms steps: ties
    cand = np.round(g.lognormal(np.log(30e6), 0.3, 300), -5)
    _insert(db, "slow", {"b": base, "c": cand})
    result = regression(*db, "slow", ALL, baseline="b", candidate="c")
    want = stats.mannwhitneyu(base, cand, alternative="two-sided").pvalue
    assert 0 < want < 1e-40
    assert result.p_value == pytest.approx(want, rel=1e-9)
    assert result.slower


def test_regression_small_samples_use_scipys_exact_p(db: tuple[Client, str]) -> None:
    base = np.array([10e6, 11e6, 12e6, 13e6, 14e6, 15e6])
    cand = np.array([12.5e6, 16e6, 17e6, 18e6, 19e6])
    _insert(db, "tiny", {"b": base, "c": cand})
    result = regression(*db, "tiny", ALL, baseline="b", candidate="c")
    want = stats.mannwhitneyu(base, cand, alternative="two-sided").pvalue  # exact here
    assert result.p_value == pytest.approx(want, rel=1e-12)
