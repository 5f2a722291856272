"""Ordered acknowledgements: acks may arrive in any order, the checkpoint moves only over a
contiguous prefix of acknowledged ids (Vector's `OrderedAcknowledgements`). Pure, no I/O."""

from __future__ import annotations

import heapq


class AckTracker:
    """`acked_through` is the highest id such that every id up to it is acknowledged.

    Ranges beyond the checkpoint wait in a heap until the gap before them closes. Acks at or
    below the checkpoint, and repeated acks, change nothing.
    """

    __slots__ = ("_acked_through", "_pending")

    def __init__(self, acked_through: int = 0) -> None:
        if acked_through < 0:
            raise ValueError(f"acked_through must be >= 0, got {acked_through}")
        self._acked_through = acked_through
        self._pending: list[tuple[int, int]] = []

    @property
    def acked_through(self) -> int:
        return self._acked_through

    @property
    def pending_ranges(self) -> int:
        """Acknowledged ranges still waiting behind a gap."""
        return len(self._pending)

    def ack(self, first_id: int, last_id: int) -> bool:
        """Acknowledge ids first_id..last_id inclusive; True if the checkpoint moved."""
        if first_id > last_id:
            raise ValueError(f"empty ack range {first_id}..{last_id}")
        if last_id <= self._acked_through:
            return False
        heapq.heappush(self._pending, (first_id, last_id))
        before = self._acked_through
        pending = self._pending
        while pending and pending[0][0] <= self._acked_through + 1:
            _, last = heapq.heappop(pending)
            if last > self._acked_through:
                self._acked_through = last
        return self._acked_through != before
