"""The demo's pure parts: durations, phase timestamps, the seeded world, the progress line, and
the absolute times `driftline query` accepts so that the demo's printed commands reproduce."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pytest

from driftline.cli.query import ago_ns
from driftline.demo import scenario
from driftline.demo.model import FEATURES, V1, V2
from driftline.demo.traffic import (
    CORRELATED,
    CORRELATION,
    MISSING_FEATURE,
    MISSING_SHARE,
    NEW_CATEGORY,
    Progress,
    make_batch,
)


def test_durations_by_name_and_seconds_and_refusals() -> None:
    assert scenario.parse_duration("short") == scenario.DURATIONS_S["short"]
    assert scenario.parse_duration("30") == 30.0
    for bad in ("soon", "nan", "1"):  # 1 s gives too few rows per phase
        with pytest.raises(ValueError, match="--duration must"):
            scenario.parse_duration(bad)
    (base, shift) = scenario.plan(24.0)
    assert base.requests == shift.requests == round(24.0 * scenario.RATE / 2)
    assert (base.version, base.shifted, shift.version, shift.shifted) == ("1", False, "2", True)


def test_iso_round_trips_through_the_cli_time_parser() -> None:
    ns = 1_764_620_103_123_000_000  # whole milliseconds, as the scenario records them
    text = scenario.iso(ns)
    assert text.endswith(".123Z")
    assert ago_ns(text, now_ns=0) == ns
    assert scenario.iso(ns + 999_999) == text  # truncated to the millisecond


def test_cli_times_are_durations_or_absolute() -> None:
    now = 10**18
    assert ago_ns("1h", now) == now - 3600 * 10**9
    assert ago_ns("2026-12-01T20:15:03", now) == ago_ns("2026-12-01T20:15:03Z", now)
    assert ago_ns("2026-12-01T21:15:03+01:00", now) == ago_ns("2026-12-01T20:15:03Z", now)
    expected = int(datetime(2026, 12, 1, 20, 15, 3, tzinfo=UTC).timestamp()) * 10**9
    assert ago_ns("2026-12-01T20:15:03Z", now) == expected
    assert ago_ns(None, now) == 0
    with pytest.raises(ValueError, match="expected a duration"):
        ago_ns("yesterday", now)


def test_batches_are_seeded_and_only_two_features_shift() -> None:
    a, b = make_batch(3, 4000, shifted=False), make_batch(3, 4000, shifted=False)
    assert a == b
    shifted = make_batch(4, 4000, shifted=True)
    assert set(a.rows[0]) == set(FEATURES)

    def col(batch: object, name: str) -> np.ndarray:
        rows = batch.rows  # type: ignore[attr-defined]
        return np.array([r[name] for r in rows if r[name] is not None])

    log_a, log_s = np.log(col(a, "amount")), np.log(col(shifted, "amount"))
    assert log_s.mean() - log_a.mean() == pytest.approx(0.6, abs=0.05)
    assert NEW_CATEGORY not in set(col(a, "merchant_category"))
    assert np.mean(col(shifted, "merchant_category") == NEW_CATEGORY) == pytest.approx(
        0.6, abs=0.03
    )
    assert col(shifted, "distance_km").mean() == pytest.approx(
        col(a, "distance_km").mean(), rel=0.1
    )
    assert np.mean(a.send_label) == pytest.approx(0.5, abs=0.03)
    # the data problems drift cannot see: a missing-value burst and a correlation flip
    carried = [r[MISSING_FEATURE] is not None for r in shifted.rows]
    assert 1 - np.mean(carried) == pytest.approx(MISSING_SHARE, abs=0.02)
    assert all(r[MISSING_FEATURE] is not None for r in a.rows)
    x, y = CORRELATED
    before = np.corrcoef(col(a, x), col(a, y))[0, 1]
    after = np.corrcoef(col(shifted, x), col(shifted, y))[0, 1]
    assert before == pytest.approx(CORRELATION, abs=0.05)
    assert after == pytest.approx(-CORRELATION, abs=0.05)
    for name in CORRELATED:  # each marginal stays put
        assert col(shifted, name).mean() == pytest.approx(col(a, name).mean(), rel=0.05)
        assert col(shifted, name).std() == pytest.approx(col(a, name).std(), rel=0.05)


def test_version_2_is_worse_than_the_truth_it_is_scored_against() -> None:
    batch = make_batch(5, 4000, shifted=True)
    y = np.array(batch.truth)
    acc = {s.version: np.mean((s.probabilities(list(batch.rows)) >= 0.5) == y) for s in (V1, V2)}
    assert acc["2"] < acc["1"] - 0.1
    assert V2.extra_latency_s > V1.extra_latency_s


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_tty_and_stays_silent_otherwise() -> None:
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress("phase", 4, stream)
        for _ in range(4):
            progress.advance()
        progress.close()
    assert pipe.getvalue() == ""
    assert tty.getvalue().startswith("\r  phase [")
    assert "4/4" in tty.getvalue() and tty.getvalue().endswith("\n")
