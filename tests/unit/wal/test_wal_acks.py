from __future__ import annotations

import pytest

from driftline.wal.acks import AckTracker


def test_in_order_acks_move_the_checkpoint() -> None:
    tracker = AckTracker()
    assert tracker.ack(1, 3) is True
    assert tracker.acked_through == 3
    assert tracker.ack(4, 4) is True
    assert tracker.acked_through == 4


def test_out_of_order_acks_wait_for_the_gap_to_close() -> None:
    tracker = AckTracker()
    assert tracker.ack(5, 8) is False
    assert tracker.ack(2, 3) is False
    assert tracker.acked_through == 0 and tracker.pending_ranges == 2
    assert tracker.ack(1, 1) is True
    assert tracker.acked_through == 3
    assert tracker.ack(4, 4) is True
    assert tracker.acked_through == 8 and tracker.pending_ranges == 0


def test_repeated_and_overlapping_acks_are_harmless() -> None:
    tracker = AckTracker(10)
    assert tracker.ack(3, 7) is False  # already behind the checkpoint
    assert tracker.ack(9, 12) is True
    assert tracker.ack(11, 12) is False
    assert tracker.ack(12, 15) is True
    assert tracker.acked_through == 15


def test_a_checkpoint_never_passes_an_unacked_id() -> None:
    tracker = AckTracker()
    tracker.ack(1, 4)
    tracker.ack(6, 100)
    assert tracker.acked_through == 4


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="empty ack range"):
        AckTracker().ack(5, 4)
