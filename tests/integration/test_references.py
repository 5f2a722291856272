"""Saved reference profiles on the real engine: a saved copy answers drift exactly like the live
reference window (and like scipy), survives the live rows, and bad saves fail clearly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from scipy import stats

from driftline.analysis.drift import (
    DriftRequest,
    EmptyWindowError,
    Window,
)
from driftline.errors import InvalidInputError, NotFoundError
from driftline.query.drift import drift_report, drift_reports, reference_thresholds
from driftline.query.references import get_reference, list_references, save_reference
from tests.engine_db import fresh_database

NOW = time.time_ns()
HOUR = 3600 * 10**9
REF = Window(NOW - 4 * HOUR, NOW - 2 * HOUR)
CUR = Window(NOW - 2 * HOUR, NOW)

rng = np.random.default_rng(11)
NUM = {  # feature: (reference, current)
    "big": (rng.normal(0, 1, 2500), rng.normal(0.4, 1, 2000)),
    "small": (rng.normal(0, 1, 300), rng.normal(0, 1, 250)),
}
CAT = (rng.choice(["a", "b", "c"], 2500, p=[0.6, 0.3, 0.1]), rng.choice(["a", "b", "c"], 2000))


def _rows(model: str, version: str) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        c: []
        for c in ("ModelName", "ModelVersion", "Feature", "Timestamp", "Kind", "Value", "Category")
    }

    def add(feature: str, kind: str, start: int, values: Any) -> None:
        n = len(values)
        cols["ModelName"] += [model] * n
        cols["ModelVersion"] += [version] * n
        cols["Feature"] += [feature] * n
        cols["Timestamp"] += [int(start + i * (2 * HOUR // (n + 1))) for i in range(n)]
        cols["Kind"] += [kind] * n
        numerical = kind == "numerical"
        cols["Value"] += [float(v) for v in values] if numerical else [float("nan")] * n
        cols["Category"] += [""] * n if numerical else [str(v) for v in values]

    for name, (ref, cur) in NUM.items():
        add(name, "numerical", REF.start_ns, ref)
        add(name, "numerical", CUR.start_ns, cur)
    add("colour", "categorical", REF.start_ns, CAT[0])
    add("colour", "categorical", CUR.start_ns, CAT[1])
    return cols


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "refs") as (client, target):
        for model, version in (("m", "1"), ("other", "1")):
            cols = _rows(model, version)
            client.insert(
                "ml_features", [cols[c] for c in cols], column_names=list(cols),
                column_oriented=True, database=target.database,
            )  # fmt: skip
        yield client, target.database


def _scores(client: Client, database: str, reference: Window) -> dict[str, Any]:
    report = drift_report(client, database, DriftRequest("m", reference, CUR))
    return {f.feature: f for f in report.features}


def test_saved_reference_scores_equal_the_live_window_and_scipy(db: tuple[Client, str]) -> None:
    client, database = db
    saved = save_reference(client, database, name="train", model="m", window=REF)
    assert saved.rows == sum(len(r) for r, _ in NUM.values()) + len(CAT[0])
    assert saved.inferences == 2500 and saved.features == ("big", "colour", "small")
    live = _scores(client, database, REF)
    frozen = _scores(client, database, saved.window)
    for name, f in live.items():
        g = frozen[name]
        assert (g.method, g.n_ref, g.n_cur, g.drifted) == (f.method, f.n_ref, f.n_cur, f.drifted)
        assert g.score == pytest.approx(f.score, rel=1e-12, abs=1e-15)
    ref, cur = NUM["small"]
    assert frozen["small"].method == "ks"
    assert frozen["small"].score == pytest.approx(stats.ks_2samp(ref, cur)[1], rel=1e-9)
    ref, cur = NUM["big"]
    want = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert frozen["big"].score == pytest.approx(want, rel=1e-9) and frozen["big"].drifted


def test_saved_reference_outlives_the_live_rows(chdb_dir: Path) -> None:
    with fresh_database(chdb_dir, "refs_ttl") as (client, target):
        cols = _rows("m", "1")
        client.insert(
            "ml_features", [cols[c] for c in cols], column_names=list(cols),
            column_oriented=True, database=target.database,
        )  # fmt: skip
        saved = save_reference(
            client, target.database, name="train", model="m", window=REF, features=["small"]
        )
        client.command(
            f"DELETE FROM {target.database}.ml_features WHERE Timestamp < "
            f"fromUnixTimestamp64Nano({CUR.start_ns})"
        )
        with pytest.raises(EmptyWindowError):
            drift_report(client, target.database, DriftRequest("m", REF, CUR, features=("small",)))
        got = drift_report(
            client, target.database, DriftRequest("m", saved.window, CUR, features=("small",))
        ).features[0]
        ref, cur = NUM["small"]
        assert got.score == pytest.approx(stats.ks_2samp(ref, cur)[1], rel=1e-9)


def test_windows_and_reference_thresholds_read_the_snapshot(db: tuple[Client, str]) -> None:
    client, database = db
    saved = save_reference(client, database, name="chunks", model="m", window=REF)
    base = DriftRequest("m", REF, CUR, features=("big", "colour"))
    frozen = replace(base, reference=saved.window)
    assert reference_thresholds(client, database, frozen, chunks=4) == pytest.approx(
        reference_thresholds(client, database, base, chunks=4)
    )
    live = drift_reports(client, database, replace(base, window_s=1800))
    saved_w = drift_reports(client, database, replace(frozen, window_s=1800))
    assert len(live) == len(saved_w) == 4
    for a, b in zip(live, saved_w, strict=True):
        assert [f.score for f in a.features] == pytest.approx([f.score for f in b.features])


def test_saving_again_replaces_and_listing_shows_the_newest(db: tuple[Client, str]) -> None:
    client, database = db
    first = save_reference(client, database, name="rolling", model="m", window=REF)
    second = save_reference(
        client, database, name="rolling", model="m", window=CUR, description="last 2h"
    )
    assert second.snapshot != first.snapshot
    assert get_reference(client, database, "m", "rolling").start_ns == CUR.start_ns
    names = [(r.model, r.name) for r in list_references(client, database, "m")]
    assert names.count(("m", "rolling")) == 1
    assert all(model == "m" for model, _ in names)
    assert ("other", "rolling") not in [
        (r.model, r.name) for r in list_references(client, database)
    ]


def test_bad_saves_and_lookups_fail_clearly(db: tuple[Client, str]) -> None:
    client, database = db
    with pytest.raises(EmptyWindowError, match="no feature values"):
        save_reference(
            client, database, name="empty", model="m", window=Window(NOW - 10 * HOUR, REF.start_ns)
        )
    with pytest.raises(EmptyWindowError, match="version '9'"):
        save_reference(client, database, name="v9", model="m", window=replace(REF, version="9"))
    with pytest.raises(NotFoundError, match="no saved reference 'nope'"):
        get_reference(client, database, "m", "nope")
    with pytest.raises(InvalidInputError, match="reference name"):
        save_reference(client, database, name="a b;", model="m", window=REF)
    assert "empty" not in [r.name for r in list_references(client, database, "m")]
