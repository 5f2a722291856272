"""The ordered ack tracker against the obvious definition: the longest acknowledged prefix."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.wal.acks import AckTracker


@st.composite
def _ranges_in_any_order(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A partition of 1..n into ranges (some repeated), shuffled."""
    n = draw(st.integers(1, 200))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=40))) if n > 1 else []
    bounds = [0, *cuts, n]
    ranges = [(bounds[i] + 1, bounds[i + 1]) for i in range(len(bounds) - 1)]
    ranges += draw(st.lists(st.sampled_from(ranges), max_size=5))  # duplicates
    return n, draw(st.permutations(ranges))


@settings(max_examples=100, deadline=None)
@given(case=_ranges_in_any_order())
def test_checkpoint_is_the_contiguous_acknowledged_prefix_and_never_moves_back(
    case: tuple[int, list[tuple[int, int]]],
) -> None:
    n, ranges = case
    tracker = AckTracker()
    acked: set[int] = set()
    previous = 0
    for first, last in ranges:
        moved = tracker.ack(first, last)
        acked.update(range(first, last + 1))
        prefix = 0
        while prefix + 1 in acked:
            prefix += 1
        assert tracker.acked_through == prefix
        assert moved == (prefix != previous) and prefix >= previous
        previous = prefix
    assert tracker.acked_through == n and tracker.pending_ranges == 0
