"""Data quality on the real embedded engine: every figure against numpy on the data built here.

The test builds inferences with known defects — NaNs, empty categories, a category the
reference never had, values beyond the reference's range, numbers sent as strings, repeated
inference ids, an optional feature that half the inferences carry — and recomputes each share
from the arrays it inserted (independently of the engine's SQL)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client

from driftline.alerts.measure import Measurer
from driftline.analysis import quality as dq
from driftline.analysis.drift import Window
from driftline.config.alerts import AlertRule
from driftline.config.derived import DerivedConfig, DerivedDriftConfig
from driftline.export.derived import compute
from driftline.export.derived.series import (
    MISSING_SHARE,
    OUT_OF_RANGE_SHARE,
    QUALITY_FLAGGED,
    UNSEEN_SHARE,
    series,
)
from driftline.export.derived.types import ModelSnapshot, Snapshot
from driftline.query.quality import EmptyReferenceError, QualityRequest, data_quality
from driftline.query.references import save_reference
from driftline.storage.client import Target
from driftline.storage.quality_sql import Scope
from tests.engine_db import fresh_database

NOW = time.time_ns()
HOUR = 3600 * 10**9
REF = Scope(NOW - 4 * HOUR, NOW - 2 * HOUR)
CUR = Scope(NOW - 2 * HOUR, NOW)
N_REF, N_CUR = 2000, 1200
rng = np.random.default_rng(11)


def _build() -> dict[str, Any]:
    """Per side: timestamps, inference ids and each feature's (kind, value) per inference, with
    None where the inference does not carry the feature."""
    data: dict[str, Any] = {}
    for side, n, start in (("ref", N_REF, REF.start_ns), ("cur", N_CUR, CUR.start_ns)):
        ts = start + np.arange(n) * (2 * HOUR // (n + 1))
        ids = [f"{side}-{i}" for i in range(n)]
        amount: list[Any] = [("numerical", float(v)) for v in rng.normal(10, 2, n)]
        city: list[Any] = [("categorical", str(v)) for v in rng.choice(["a", "b", "c"], n)]
        # the reference's optional feature: carried by a varying share, so its chunks differ
        opt: list[Any] = [
            ("numerical", float(v)) if rng.random() < 0.5 + 0.1 * math.sin(i / 50) else None
            for i, v in enumerate(rng.normal(0, 1, n))
        ]
        if side == "cur":
            for i in range(0, n, 10):  # 10 % NaN
                amount[i] = ("numerical", float("nan"))
            for i in range(5, n, 40):  # 2.5 % beyond the reference's range
                amount[i] = ("numerical", 1000.0)
            for i in range(3, n, 100):  # numbers that arrived as strings
                amount[i] = ("categorical", "12.5")
            for i in range(1, n, 25):  # 4 % a city never seen
                city[i] = ("categorical", "zurich")
            for i in range(2, n, 50):  # 2 % empty
                city[i] = ("categorical", "")
            for i in range(7, 60, 12):  # repeated inference ids
                ids[i] = ids[i - 1]
        data[side] = {"ts": ts, "ids": ids, "amount": amount, "city": city, "opt": opt}
    return data


DATA = _build()


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "quality") as (client, target):
        feats: dict[str, list[Any]] = {
            c: []
            for c in (
                "ModelName",
                "Feature",
                "Timestamp",
                "ModelVersion",
                "Kind",
                "Value",
                "Category",
            )
        }
        infs: dict[str, list[Any]] = {
            c: [] for c in ("ModelName", "ModelVersion", "InferenceId", "Timestamp")
        }
        for side in ("ref", "cur"):
            d = DATA[side]
            for i, t in enumerate(d["ts"]):
                infs["ModelName"].append("m")
                infs["ModelVersion"].append("1")
                infs["InferenceId"].append(d["ids"][i])
                infs["Timestamp"].append(int(t))
                for name in ("amount", "city", "opt"):
                    cell = d[name][i]
                    if cell is None:
                        continue
                    kind, value = cell
                    feats["ModelName"].append("m")
                    feats["Feature"].append(name)
                    feats["Timestamp"].append(int(t))
                    feats["ModelVersion"].append("1")
                    feats["Kind"].append(kind)
                    feats["Value"].append(value if kind == "numerical" else float("nan"))
                    feats["Category"].append(value if kind == "categorical" else "")
        for table, cols in (("ml_features", feats), ("ml_inferences", infs)):
            client.insert(
                table, [cols[c] for c in cols], column_names=list(cols),
                column_oriented=True, database=target.database,
            )  # fmt: skip
        yield client, target


def ask(db: tuple[Client, Target], **kw: Any) -> Any:
    return data_quality(db[0], db[1].database, QualityRequest("m", REF, CUR, **kw))


def _cells(side: str, name: str) -> list[Any]:
    return list(DATA[side][name])


def _feature(answer: Any, name: str, window: int = 0) -> dq.FeatureQuality:
    return next(f for f in answer.windows[window].features if f.feature == name)


def _check(answer: Any, feature: str, check: str, window: int = 0) -> dq.Check:
    found = _feature(answer, feature, window).check(check)
    assert found is not None, (feature, check)
    return found


def test_missing_shares_are_exact(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    for name in ("amount", "city", "opt"):
        cells = _cells("cur", name)
        missing = sum(
            c is None
            or (c[0] == "numerical" and not math.isfinite(c[1]))
            or (c[0] == "categorical" and c[1] == "")
            for c in cells
        )
        assert _check(answer, name, dq.MISSING).value == missing / N_CUR
    assert _check(answer, "amount", dq.MISSING).alert  # 10 % NaN where the reference had none
    assert _feature(answer, "amount", 0).flagged


def test_learned_missing_threshold_is_nannyml_std_over_equal_row_chunks(
    db: tuple[Client, Target],
) -> None:
    answer = ask(db, reference_chunks=10)
    cells = _cells("ref", "opt")
    size = N_REF // 10  # the reference's inferences by time, 10 chunks of equal counts
    shares = [sum(c is None for c in cells[i * size : (i + 1) * size]) / size for i in range(10)]
    mean, std = np.mean(shares), np.std(shares)
    check = _check(answer, "opt", dq.MISSING)
    assert check.upper == pytest.approx(min(mean + 3 * std, 1.0), rel=1e-12)
    assert check.lower == pytest.approx(max(mean - 3 * std, 0.0), rel=1e-12)
    assert answer.reference_chunks == 10
    # an optional feature carried as often as in the reference is not an alert
    assert not check.alert


def test_unseen_categories_and_their_share(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    cur = [c[1] for c in _cells("cur", "city")]
    seen = {c[1] for c in _cells("ref", "city")}
    valid = [v for v in cur if v != ""]
    unseen = [v for v in valid if v not in seen]
    check = _check(answer, "city", dq.UNSEEN)
    assert check.value == len(unseen) / len(valid)
    assert check.alert  # NannyML's default: any unseen value alerts
    feature = _feature(answer, "city")
    assert feature.new_categories == (("zurich", len(unseen)),)
    assert feature.absent_categories == ()


def test_out_of_range_share_against_reference_min_max(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    ref = [c[1] for c in _cells("ref", "amount")]
    cur = [c[1] for c in _cells("cur", "amount") if c[0] == "numerical" and math.isfinite(c[1])]
    lo, hi = min(ref), max(ref)
    out = sum(v < lo or v > hi for v in cur)
    check = _check(answer, "amount", dq.OUT_OF_RANGE)
    assert check.value == out / len(cur)
    assert check.alert
    assert answer.reference["amount"].minimum == lo and answer.reference["amount"].maximum == hi


def test_type_mismatches_are_counted_not_split(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    cells = [c for c in _cells("cur", "amount") if c is not None]
    strings = sum(c[0] == "categorical" for c in cells)
    check = _check(answer, "amount", dq.MISMATCH)
    assert _feature(answer, "amount").kind == "numerical"
    assert check.value == strings / len(cells)
    assert check.alert  # the reference had none: learned upper bound dropped to 0


def test_duplicate_inference_ids(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    ids = DATA["cur"]["ids"]
    window = answer.windows[0]
    assert window.inferences == N_CUR
    assert window.duplicates.value == (len(ids) - len(set(ids))) / len(ids)
    assert window.duplicates.alert and window.flagged


def test_summary_stats_next_to_the_reference(db: tuple[Client, Target]) -> None:
    answer = ask(db)
    cur = np.array(
        [c[1] for c in _cells("cur", "amount") if c[0] == "numerical" and math.isfinite(c[1])]
    )
    summary = _feature(answer, "amount").summary
    assert summary.count == len(cur)
    assert summary.mean == pytest.approx(cur.mean(), rel=1e-12)
    assert summary.std == pytest.approx(cur.std(ddof=1), rel=1e-9)
    assert summary.minimum == cur.min() and summary.maximum == cur.max()
    ref = np.array([c[1] for c in _cells("ref", "amount")])
    levels = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    for got, level in zip(answer.reference["amount"].quantiles, levels, strict=True):
        # t-digest: approximate in rank, so compare ranks (within one percentile)
        assert abs(float(np.mean(ref <= got)) - level) <= 0.01, (level, got)


def test_windows_split_the_current_range(db: tuple[Client, Target]) -> None:
    answer = ask(db, window_ns=HOUR)
    assert len(answer.windows) == 2
    ts = DATA["cur"]["ts"]
    for w in answer.windows:
        assert w.inferences == int(np.sum((ts >= w.start_ns) & (ts < w.end_ns)))


def test_fixed_thresholds_and_per_feature_overrides(db: tuple[Client, Target]) -> None:
    opts = dq.QualityOptions(
        threshold_mode="fixed",
        thresholds={dq.MISSING: 0.2},
        feature_thresholds={"city": {dq.UNSEEN: 0.5}},
    )
    answer = ask(db, options=opts)
    assert _check(answer, "amount", dq.MISSING).upper == 0.2
    assert not _check(answer, "amount", dq.MISSING).alert  # 10 % < 20 %
    assert not _check(answer, "city", dq.UNSEEN).alert  # 4 % < 50 %


def test_an_empty_current_window_is_no_data(db: tuple[Client, Target]) -> None:
    later = Scope(NOW + HOUR, NOW + 2 * HOUR)
    answer = data_quality(db[0], db[1].database, QualityRequest("m", REF, later))
    assert answer.no_data and not answer.flagged


def test_an_empty_reference_is_a_clear_error(db: tuple[Client, Target]) -> None:
    earlier = Scope(NOW - 9 * HOUR, NOW - 8 * HOUR)
    with pytest.raises(EmptyReferenceError, match="no feature values in the reference"):
        data_quality(db[0], db[1].database, QualityRequest("m", earlier, CUR))


def test_alert_rules_measure_the_same_shares(db: tuple[Client, Target]) -> None:
    client, target = db
    measurer = Measurer(lambda: client, target.database, reference_s=2 * 3600, clock_ns=lambda: NOW)
    answer = ask(db)
    rule = AlertRule(name="y", kind="quality.missing_share", model="m", threshold=0.05, window="2h")
    assert rule.validate("r") == []
    worst = max(_check(answer, f, dq.MISSING).value for f in ("amount", "city", "opt"))
    assert measurer(rule) == worst
    one = AlertRule(name="c", kind="quality.unseen_share", model="m", threshold=0, window="2h",
                    feature="city")  # fmt: skip
    assert measurer(one) == _check(answer, "city", dq.UNSEEN).value
    assert one.breached(measurer(one) or 0.0)


def test_derived_gauges_carry_the_shares(db: tuple[Client, Target]) -> None:
    client, target = db
    cfg = DerivedConfig(drift=DerivedDriftConfig(window_s=2 * 3600, reference_s=2 * 3600))
    snapshot = compute.quality(client, target.database, "m", "1", cfg, NOW)
    assert snapshot is not None and snapshot.flagged
    points = series(Snapshot(NOW, (ModelSnapshot("m", "1", quality=snapshot),)))
    missing = dict(points[MISSING_SHARE])
    assert missing[("m", "1", "amount")] == _check(ask(db), "amount", dq.MISSING).value
    assert dict(points[QUALITY_FLAGGED])[("m", "1")] == 1.0
    assert ("m", "1", "city") in dict(points[UNSEEN_SHARE])
    assert ("m", "1", "amount") in dict(points[OUT_OF_RANGE_SHARE])


def test_a_saved_reference_gives_the_same_answer(db: tuple[Client, Target]) -> None:
    client, target = db
    saved = save_reference(
        client, target.database, name="dq-ref", model="m",
        window=Window(REF.start_ns, REF.end_ns, ""),
    )  # fmt: skip
    frozen = Scope(saved.start_ns, saved.end_ns, saved.version, saved.snapshot)
    live, copy = ask(db), data_quality(client, target.database, QualityRequest("m", frozen, CUR))
    for name in ("amount", "city", "opt"):
        for check in (dq.MISSING, dq.MISMATCH, dq.UNSEEN, dq.OUT_OF_RANGE):
            a, b = _feature(live, name).check(check), _feature(copy, name).check(check)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert (a.value, a.lower, a.upper) == pytest.approx((b.value, b.lower, b.upper))
    assert copy.reference_inferences == N_REF
