"""#11.2: the windows a drift question compares when the request leaves them open."""

from __future__ import annotations

import pytest

from driftline.analysis.drift import Window
from driftline.errors import InvalidInputError
from driftline.query.drift_windows import (
    HOUR_NS,
    Chosen,
    WindowAsk,
    check,
    current_window,
    from_data,
    given_reference,
)

NOW = 1_800_000_000 * 10**9


def test_current_defaults_to_the_last_hour() -> None:
    assert current_window(WindowAsk(), NOW) == Window(NOW - HOUR_NS, NOW)
    assert current_window(WindowAsk(NOW - 5 * HOUR_NS, 0, "4"), NOW) == Window(
        NOW - 5 * HOUR_NS, NOW, "4"
    )


def test_a_clock_skew_sliver_is_not_a_window_of_its_own() -> None:
    ask = WindowAsk(NOW - 24 * HOUR_NS)
    assert current_window(ask, NOW + 3_000_000, window_s=3600).end_ns == NOW  # 24 slices
    assert current_window(ask, NOW + 3_000_000).end_ns == NOW + 3_000_000  # no slicing: as is


def test_a_version_comparison_covers_the_current_range() -> None:
    cur = current_window(WindowAsk(NOW - 24 * HOUR_NS, 0, "4"), NOW)
    chosen = given_reference(WindowAsk(version="3"), cur)
    assert chosen is not None and chosen.reference == Window(cur.start_ns, cur.end_ns, "3")
    # the same version on both sides is not a comparison: the data decide
    assert given_reference(WindowAsk(version="4"), cur) is None


def test_a_reference_start_alone() -> None:
    cur = current_window(WindowAsk(), NOW)
    before = given_reference(WindowAsk(NOW - 25 * HOUR_NS), cur)
    assert before is not None and before.reference == Window(NOW - 25 * HOUR_NS, cur.start_ns)
    # `--reference-since 1h` with the default current hour (the client's clock a little behind)
    same = given_reference(WindowAsk(NOW - HOUR_NS - 5_000_000), cur)
    assert same is not None and same.reference.end_ns == cur.end_ns
    check(same)


def test_fresh_data_splits_the_current_window_at_its_median() -> None:
    cur = current_window(WindowAsk(), NOW)
    median = NOW - 60 * 10**9
    chosen = from_data(WindowAsk(), cur, n_before=0, n_current=1000, median_ns=median)
    assert chosen.reference == Window(cur.start_ns, median)
    assert chosen.current == Window(median, cur.end_ns)
    older = from_data(WindowAsk(), cur, n_before=10, n_current=1000, median_ns=median)
    assert older.reference == Window(cur.start_ns - 24 * HOUR_NS, cur.start_ns)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="reference window is empty"):
        check(Chosen(Window(5, 5), Window(5, 9), ""))
