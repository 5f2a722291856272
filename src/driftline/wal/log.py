"""`Wal`: the facade that ties recovery, the writer, the catalog, cursors and the ledger together.

See the package docstring for the format and the rules; this file only wires the parts:

    open   → lock the directory → recover → catalog + cursors + writer → ledger written
    submit → writer queue                      (never waits on I/O)
    read   → catalog.plan_read under the cursor lock → fetch outside any lock
    ack    → tracker (contiguous prefix) → ledger replaced atomically → whole segments deleted
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

from driftline import telemetry
from driftline.config.model import WalConfig
from driftline.wal.acks import AckTracker
from driftline.wal.catalog import Catalog, Slot
from driftline.wal.fsio import DirLock, fsync_dir
from driftline.wal.ledger import Ledger, LedgerState
from driftline.wal.reader import WalRecord, fetch
from driftline.wal.recovery import Recovered, quarantine, recover
from driftline.wal.writer import GroupCommitWriter

log = logging.getLogger(__name__)

# How often, at most, the writer's next id is written to the ledger while records arrive.
HEAD_REFRESH_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class CursorStats:
    acked_through: int  # the persisted checkpoint: every id up to it is acknowledged
    next_read_id: int  # where `read` continues (in memory; restarts resume after the checkpoint)
    lag_records: int  # head_id - acked_through (ids lost to damage included)
    lag_bytes: int  # bytes on disk from the first unacknowledged record on (approximate)


@dataclass(frozen=True, slots=True)
class WalStats:
    total_bytes: int  # bytes of segment files on disk
    segments: int
    head_id: int  # the last durable id, 0 before the first record
    oldest_id: int  # the first id still on disk (head_id + 1 when empty)
    queued_bytes: int  # frames submitted but not yet written
    cursors: Mapping[str, CursorStats]
    corrupt_records: int  # damaged, set aside at recovery (and since, if bytes rotted under us)
    missing_records: int  # expected at recovery, but their bytes were gone
    torn_bytes_truncated: int  # cut off the newest segment at recovery
    ledger_rebuilt: bool  # the ledger was unreadable at startup: rebuilt from the segments


class _Cursor:
    __slots__ = ("next_read_id", "tracker")

    def __init__(self, acked_through: int) -> None:
        self.tracker = AckTracker(acked_through)
        self.next_read_id = acked_through + 1


class Wal:
    """The write-ahead log. Create with `Wal.open(...)`; every method is thread-safe."""

    def __init__(self, config: WalConfig, directory: Path, lock: DirLock, rec: Recovered) -> None:
        self._dir = directory
        self._dir_lock = lock
        self._ledger = Ledger(directory)
        self._closed = False
        self._close_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._corrupt_records = rec.corrupt_records
        self._missing_records = rec.missing_records
        self._torn_bytes = rec.torn_bytes_truncated
        self._ledger_rebuilt = rec.ledger_rebuilt
        self._head_saved_at = time.monotonic()
        self._ledger_failing = False
        self._catalog = Catalog(rec.segments, head_id=rec.next_id - 1)
        self._cursors: dict[str, _Cursor] = {}
        for name, acked in rec.acked_through.items():
            cursor = _Cursor(acked)
            for first, last in rec.lost:  # damaged ids count as acknowledged
                cursor.tracker.ack(first, last)
            cursor.next_read_id = cursor.tracker.acked_through + 1
            self._cursors[name] = cursor
        self._persisted: dict[str, int] = {}
        self._writer = GroupCommitWriter(
            directory,
            self._catalog,
            next_id=rec.next_id,
            active=rec.appendable,
            sync=config.sync,
            sync_interval_s=config.sync_interval_s,
            segment_bytes=config.segment_size_mib << 20,
            max_bytes=config.max_size_mib << 20,
            retry_after_s=config.retry_after_s,
            on_rotate=self._collect_garbage,
            on_group=self._refresh_head,
        )
        try:
            self._persist(force=True, strict=True)  # new cursors, pre-acked damage, next_id
        except BaseException:
            self._writer.close()
            raise

    @classmethod
    def open(cls, config: WalConfig, directory: str | Path, cursors: Sequence[str]) -> Wal:
        """Create or reopen the WAL in `directory`, recover it, start the writer thread.

        `cursors` names the consumers; one never seen before starts at the oldest record on
        disk. Raises WalCorruptionError if another open WAL holds the directory's lock or the
        ledger cannot be read.
        """
        names = list(cursors)
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"cursor names must be distinct, non-empty strings: {names!r}")
        path = Path(directory)
        if not path.is_dir():
            path.mkdir(parents=True)
            fsync_dir(path.parent)  # the directory entry itself must survive a crash
        lock = DirLock(path)
        lock.acquire()
        try:
            return cls(config, path, lock, recover(path, names))
        except BaseException:
            lock.release()
            raise

    @property
    def directory(self) -> Path:
        return self._dir

    # ---- appending ---------------------------------------------------------------------------

    def submit(self, kind: int, payload: bytes) -> Future[int]:
        """Queue a record; the future resolves with its id once durable per the sync policy.

        Never waits on I/O. Raises WalFullError (with delay_s) when the bytes on disk plus the
        bytes queued would pass max_size_mib, TooLargeError for a record that could never fit,
        RuntimeError once the WAL is closed or its writer failed.
        """
        return self._writer.submit(kind, payload)

    def health(self) -> str | None:
        """None while appends work; otherwise why they are refused (the disk is full — they
        resume by themselves when space returns — or the writer failed for good)."""
        if self._closed:
            return "the WAL is closed"
        return self._writer.health()

    def append(self, kind: int, payload: bytes) -> int:
        return self.submit(kind, payload).result()

    # ---- consuming ---------------------------------------------------------------------------

    def read(
        self, cursor: str, max_records: int, max_bytes: int, timeout_s: float
    ) -> list[WalRecord]:
        """The next durable records for `cursor` after those already handed out: at least one
        (even if it alone exceeds `max_bytes`) unless `timeout_s` passes with nothing new."""
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        state = self._cursor(cursor)
        self._check_open()
        deadline = time.monotonic() + timeout_s
        while not self._closed:
            with self._cursor_lock:
                start = max(state.next_read_id, state.tracker.acked_through + 1)
                slots, state.next_read_id = self._catalog.plan_read(start, max_records, max_bytes)
                waiting_for = state.next_read_id
            if slots:
                got = fetch(slots)
                if got.damaged:
                    self._set_aside(got.damaged)
                if got.records:
                    return got.records
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._catalog.wait_for(waiting_for, remaining)
        return []

    def ack(self, cursor: str, first_id: int, last_id: int) -> None:
        """Acknowledge ids first_id..last_id (inclusive), in any order. The persisted checkpoint
        moves over the contiguous acknowledged prefix; passed segments are deleted."""
        state = self._cursor(cursor)
        self._check_open()
        head = self._catalog.head_id
        if not 1 <= first_id <= last_id <= head:
            raise ValueError(
                f"cannot ack ids {first_id}..{last_id}: a range within 1..{head} (the last "
                "durable id) is expected"
            )
        with self._cursor_lock:
            moved = state.tracker.ack(first_id, last_id)
        if moved:
            self._persist()

    def rewind(self, cursor: str) -> None:
        """Hand out again everything after the checkpoint (a consumer failed mid-way)."""
        state = self._cursor(cursor)
        with self._cursor_lock:
            state.next_read_id = state.tracker.acked_through + 1

    # ---- observing and closing ---------------------------------------------------------------

    def stats(self) -> WalStats:
        with self._cursor_lock:
            positions = {
                name: (c.tracker.acked_through, max(c.next_read_id, c.tracker.acked_through + 1))
                for name, c in self._cursors.items()
            }
        head = self._catalog.head_id
        cursors = {
            name: CursorStats(
                acked_through=acked,
                next_read_id=next_read,
                lag_records=max(0, head - acked),
                lag_bytes=self._catalog.bytes_after(acked),
            )
            for name, (acked, next_read) in positions.items()
        }
        return WalStats(
            total_bytes=self._catalog.total_bytes,
            segments=self._catalog.segment_count,
            head_id=head,
            oldest_id=self._catalog.oldest_id(),
            queued_bytes=self._writer.queued_bytes,
            cursors=cursors,
            corrupt_records=self._corrupt_records,
            missing_records=self._missing_records,
            torn_bytes_truncated=self._torn_bytes,
            ledger_rebuilt=self._ledger_rebuilt,
        )

    def close(self) -> None:
        """Write and fsync everything queued, stop the writer, release the lock. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._writer.close()
            self._catalog.close()
            self._persist(force=True)
        finally:
            self._dir_lock.release()

    def __enter__(self) -> Wal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- internals ---------------------------------------------------------------------------

    def _cursor(self, name: str) -> _Cursor:
        try:
            return self._cursors[name]
        except KeyError:
            raise KeyError(f"unknown WAL cursor {name!r}; known: {sorted(self._cursors)}") from None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the WAL is closed")

    def _persist(self, *, force: bool = False, strict: bool = False) -> None:
        """Write the checkpoints to the ledger (atomically), then delete passed segments.

        A ledger that cannot be written (the disk is full) leaves the old one in place: the
        checkpoints stay in memory and are written with the next acknowledgement, nothing is
        deleted meanwhile (deleting needs the new checkpoint on disk first), and a restart
        would only replay a little more. `strict` (at open) raises instead.
        """
        with self._ledger_lock:
            with self._cursor_lock:
                acked = {name: c.tracker.acked_through for name, c in self._cursors.items()}
            if force or acked != self._persisted:
                state = LedgerState(next_id=self._writer.next_id, acked_through=acked)
                try:
                    self._ledger.save(state)
                except OSError as exc:
                    if strict:
                        raise
                    if not self._ledger_failing:
                        log.warning("WAL ledger cannot be written (%s); will retry", exc)
                    self._ledger_failing = True
                    return
                if self._ledger_failing:
                    log.warning("WAL ledger written again")
                self._ledger_failing = False
                self._persisted = acked
        self._collect_garbage()

    def _refresh_head(self) -> None:
        """After a group commit (writer thread): record next_id in the ledger at most every
        HEAD_REFRESH_S, so that recovery knows which ids were handed out even while no
        consumer acknowledges anything — records cut off the newest segment are then reported
        as missing instead of vanishing unnoticed."""
        now = time.monotonic()
        if now - self._head_saved_at >= HEAD_REFRESH_S:
            self._head_saved_at = now
            self._persist(force=True)

    def _collect_garbage(self) -> None:
        persisted = self._persisted
        if not persisted:
            return  # no consumers: keep everything
        released = self._catalog.release_through(min(persisted.values()))
        for segment in released:
            segment.path.unlink(missing_ok=True)
            log.debug("WAL segment %s deleted: every cursor has passed it", segment.path.name)
        if released:
            fsync_dir(self._dir)

    def _set_aside(self, damaged: list[tuple[Slot, bytes]]) -> None:
        """Records whose bytes no longer check out (they did at startup): never hand them out,
        keep their bytes in quarantine/, count them as acknowledged by every cursor."""
        for slot, data in damaged:
            self._catalog.mark_not_intact(slot.record_id)
            where = quarantine(self._dir, slot.path, slot.start, data)
            log.error(
                "WAL record %d failed its checksum on read; set aside in %s", slot.record_id, where
            )
        with self._cursor_lock:
            self._corrupt_records += len(damaged)
            for cursor in self._cursors.values():
                for slot, _ in damaged:
                    cursor.tracker.ack(slot.record_id, slot.record_id)
        telemetry.WAL_CORRUPT_RECORDS.inc(len(damaged))
        self._persist()
