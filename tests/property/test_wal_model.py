"""Model-based test: the real Wal against a list and per-cursor checkpoints (after Vector's
disk_v2 `tests/model`). Random appends, reads, out-of-order acks, rewinds, clean restarts and
crashes that leave a torn frame behind; after every step the two must agree."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from driftline.errors import WalFullError
from driftline.wal import Wal
from driftline.wal.framing import encode_frame
from tests.unit.wal.wal_helpers import config, segments

CURSORS = ("clickhouse", "forward")
MAX_BYTES = 4 << 20


class WalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.directory = Path(self._tmp.name)
        self.config = config(sync="always", segment_size_mib=1, max_size_mib=MAX_BYTES >> 20)
        self.wal = Wal.open(self.config, self.directory, CURSORS)
        self.records: dict[int, tuple[int, bytes]] = {}  # every acknowledged (durable) append
        self.last_id = 0
        self.acked: dict[str, set[int]] = {c: set() for c in CURSORS}
        self.checkpoint = dict.fromkeys(CURSORS, 0)
        self.next_read = dict.fromkeys(CURSORS, 1)

    def teardown(self) -> None:
        self.wal.close()
        self._tmp.cleanup()

    # ---- rules -------------------------------------------------------------------------------

    @rule(
        kind=st.integers(0, 255),
        size=st.sampled_from([0, 1, 100, 4096, 150_000, 400_000]),
        seed=st.integers(0, 2**16),
    )
    def append(self, kind: int, size: int, seed: int) -> None:
        self.append_group(kind, [size], seed)

    @rule(
        kind=st.integers(0, 255),
        sizes=st.lists(st.sampled_from([10, 200_000, 300_000]), min_size=2, max_size=8),
        seed=st.integers(0, 2**16),
    )
    def append_group(self, kind: int, sizes: list[int], seed: int) -> None:
        """Submit several records before waiting: they may share a group commit."""
        futures = []
        for i, size in enumerate(sizes):
            payload = random.Random(seed + i).randbytes(size)
            full = self.wal.stats().total_bytes + self.wal.stats().queued_bytes + size + 18
            if full > MAX_BYTES:
                with pytest.raises(WalFullError):
                    self.wal.submit(kind, payload)
                event("WAL full")
                break
            futures.append((self.wal.submit(kind, payload), payload))
        for future, payload in futures:
            record_id = future.result(timeout=30)
            assert record_id == self.last_id + 1
            self.last_id = record_id
            self.records[record_id] = (kind, payload)

    @rule(cursor=st.sampled_from(CURSORS), max_records=st.integers(1, 6))
    def read(self, cursor: str, max_records: int) -> None:
        got = self.wal.read(cursor, max_records, 1 << 30, 0)
        start = max(self.next_read[cursor], self.checkpoint[cursor] + 1)
        expected = list(range(start, self.last_id + 1))[:max_records]
        assert [(r.id, r.kind, r.payload) for r in got] == [(i, *self.records[i]) for i in expected]
        self.next_read[cursor] = expected[-1] + 1 if expected else start

    @precondition(lambda self: any(self._handed_out(c) for c in CURSORS))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        cursor = data.draw(st.sampled_from([c for c in CURSORS if self._handed_out(c)]))
        handed = self._handed_out(cursor)
        first = data.draw(st.integers(handed.start, handed.stop - 1), label="first")
        last = data.draw(st.integers(first, handed.stop - 1), label="last")
        self.wal.ack(cursor, first, last)
        self.acked[cursor].update(range(first, last + 1))
        while self.checkpoint[cursor] + 1 in self.acked[cursor]:
            self.checkpoint[cursor] += 1

    @rule(cursor=st.sampled_from(CURSORS))
    def consume_everything(self, cursor: str) -> None:
        """A consumer that catches up: read to the head, then ack it all in one range."""
        while True:
            before = self.next_read[cursor]
            self.read(cursor, 6)
            if self.next_read[cursor] == before:
                break
        handed = self._handed_out(cursor)
        if handed:
            self.wal.ack(cursor, handed.start, handed.stop - 1)
            self.acked[cursor].update(handed)
            self.checkpoint[cursor] = handed.stop - 1

    @rule(cursor=st.sampled_from(CURSORS))
    def rewind(self, cursor: str) -> None:
        self.wal.rewind(cursor)
        self.next_read[cursor] = self.checkpoint[cursor] + 1

    @rule()
    def restart(self) -> None:
        self.wal.close()
        self._reopen()

    @precondition(lambda self: self.last_id > 0)
    @rule(cut=st.integers(1, 60))
    def crash_leaving_a_torn_frame(self, cut: int) -> None:
        """The process died while writing the next record: part of its frame is on disk."""
        self.wal.close()
        newest = segments(self.directory)[-1]
        with newest.open("ab") as f:
            f.write(encode_frame(1, self.last_id + 1, b"never acknowledged" * 3)[:cut])
        self._reopen()
        assert self.wal.stats().torn_bytes_truncated == cut

    # ---- invariants --------------------------------------------------------------------------

    @invariant()
    def stats_agree_with_the_model(self) -> None:
        stats = self.wal.stats()
        assert stats.head_id == self.last_id
        for cursor in CURSORS:
            assert stats.cursors[cursor].acked_through == self.checkpoint[cursor]
            assert stats.cursors[cursor].lag_records == self.last_id - self.checkpoint[cursor]
        assert stats.total_bytes == sum(p.stat().st_size for p in segments(self.directory))
        assert stats.total_bytes <= MAX_BYTES
        # nothing a cursor still needs is gone: the oldest id on disk is at most the first
        # unacknowledged one
        assert stats.oldest_id <= min(self.checkpoint.values()) + 1
        assert stats.corrupt_records == 0
        event(f"segments on disk: {min(stats.segments, 3)}{'+' if stats.segments >= 3 else ''}")
        if stats.oldest_id > 1:
            event("segments were deleted")

    # ---- helpers -----------------------------------------------------------------------------

    def _handed_out(self, cursor: str) -> range:
        return range(self.checkpoint[cursor] + 1, self.next_read[cursor])

    def _reopen(self) -> None:
        self.wal = Wal.open(self.config, self.directory, CURSORS)
        # consumers start over after the checkpoint; acks beyond it were never persisted
        self.next_read = {c: self.checkpoint[c] + 1 for c in CURSORS}
        self.acked = {c: set(range(1, self.checkpoint[c] + 1)) for c in CURSORS}


WalMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_wal_matches_its_model = WalMachine.TestCase
