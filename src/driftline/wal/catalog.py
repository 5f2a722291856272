"""The catalog: the segments on disk, the durable head, and where each durable record lives.

The writer adds segments and publishes each durable group; readers plan their reads here and
wait here for new records; acknowledgement releases whole segments from the front. Every
method takes the catalog's own lock briefly and never does I/O under it.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from driftline.wal.framing import HEADER_SIZE
from driftline.wal.segment import NOT_INTACT, Segment


class Slot(NamedTuple):
    """One durable record to fetch: its file, id, frame offset and frame size."""

    path: Path
    record_id: int
    start: int
    size: int


class Catalog:
    def __init__(self, segments: Sequence[Segment], head_id: int) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._segments = list(segments)
        self._firsts = [s.first_id for s in self._segments]
        self._head_id = head_id
        self._total_bytes = sum(s.size for s in self._segments)
        self._closed = False

    # ---- read-only views (single attribute reads need no lock) -------------------------------

    @property
    def head_id(self) -> int:
        """The last durable id (0 before the first record)."""
        return self._head_id

    @property
    def total_bytes(self) -> int:
        return self._total_bytes

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def segments(self) -> list[Segment]:
        with self._lock:
            return list(self._segments)

    def oldest_id(self) -> int:
        """The first id a brand-new cursor would read: the first id of the oldest segment."""
        with self._lock:
            return self._segments[0].first_id if self._segments else self._head_id + 1

    # ---- the writer --------------------------------------------------------------------------

    def publish(
        self,
        segment: Segment,
        starts: Sequence[int],
        sizes: Sequence[int],
        nbytes: int,
        *,
        new_segment: bool = False,
    ) -> None:
        """Record frames now durable in `segment` (its last id becomes the head).

        A new segment joins the catalog only here, with its first records: until then the
        previous segment stays the newest, so it cannot be released while the writer may
        still publish records in it.
        """
        with self._lock:
            if new_segment:
                self._segments.append(segment)
                self._firsts.append(segment.first_id)
            segment.starts.extend(starts)
            segment.sizes.extend(sizes)
            segment.size += nbytes
            self._total_bytes += nbytes
            self._head_id = segment.last_id
            self._changed.notify_all()

    # ---- readers -----------------------------------------------------------------------------

    def wait_for(self, record_id: int, timeout_s: float) -> bool:
        """Block until `record_id` is durable (True) or the timeout passes / catalog closes."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._head_id < record_id and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return self._head_id >= record_id

    def plan_read(self, from_id: int, max_records: int, max_bytes: int) -> tuple[list[Slot], int]:
        """Up to `max_records` durable records from `from_id` on, within `max_bytes` of payload
        (but at least one). Damaged ids are passed over. Returns the slots and the id where the
        next read continues."""
        slots: list[Slot] = []
        payload_bytes = 0
        with self._lock:
            head = self._head_id
            segments = self._segments
            i = max(0, bisect_right(self._firsts, from_id) - 1)
            record_id = from_id
            while record_id <= head and len(slots) < max_records:
                if i >= len(segments):
                    record_id = head + 1  # ids past the last segment were lost at recovery
                    break
                segment = segments[i]
                if record_id < segment.first_id:
                    record_id = segment.first_id
                    continue
                if record_id >= segment.end_id:
                    i += 1
                    continue
                j = record_id - segment.first_id
                start = segment.starts[j]
                if start != NOT_INTACT:
                    size = segment.sizes[j]
                    if slots and payload_bytes + size - HEADER_SIZE > max_bytes:
                        break
                    payload_bytes += size - HEADER_SIZE
                    slots.append(Slot(segment.path, record_id, start, size))
                record_id += 1
        return slots, record_id

    def mark_not_intact(self, record_id: int) -> None:
        """A record found damaged after startup: never plan it again."""
        with self._lock:
            i = bisect_right(self._firsts, record_id) - 1
            if i >= 0:
                segment = self._segments[i]
                j = record_id - segment.first_id
                if 0 <= j < len(segment.starts):
                    segment.starts[j] = NOT_INTACT

    def bytes_after(self, record_id: int) -> int:
        """Bytes on disk holding `record_id + 1` and everything after it (approximate)."""
        with self._lock:
            total = 0
            for segment in reversed(self._segments):
                if segment.last_id <= record_id:
                    break
                total += segment.size - segment.offset_of(record_id + 1)
            return total

    # ---- acknowledgement ---------------------------------------------------------------------

    def release_through(self, record_id: int) -> list[Segment]:
        """Remove (and return, for deletion) the leading segments whose every record is at or
        below `record_id`. The newest segment stays: the writer appends to it."""
        with self._lock:
            n = 0
            while n < len(self._segments) - 1 and self._segments[n].last_id <= record_id:
                n += 1
            released = self._segments[:n]
            del self._segments[:n]
            del self._firsts[:n]
            self._total_bytes -= sum(s.size for s in released)
            return released

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._changed.notify_all()
