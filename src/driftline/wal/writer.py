"""The group-commit writer: one thread owns the active segment file.

    submit() ──queue──▶ writer thread: take everything queued
                          assign ids, build headers (CRC32C over header fields + payload)
                          rotate segments as they fill (a record never spans two)
                          one writev per segment, then one fdatasync  (sync "always")
                          publish to the catalog, then resolve every future of the group

Callers never wait on I/O in `submit`: they take a lock long enough to queue, or get
WalFullError at once when the bytes on disk plus the bytes queued would pass the cap.

A full disk (ENOSPC, EDQUOT) is weather, not a failure: the group that hit it is rolled back
(the active segment truncated to its last durable frame, segments the group created removed,
its ids given out again later, so ids stay contiguous), its futures fail with WalFullError
(UNAVAILABLE + RetryInfo at the receivers: the clients keep the data and retry), and the
writer is *full*: `submit` refuses at once, `health()` names the reason, and every
`probe_interval_s` the writer reserves `group size + RESUME_HEADROOM` bytes in a scratch file
(posix_fallocate) — once that works, it resumes by itself. Nothing acknowledged is touched.

Any other I/O error (or a roll-back that fails) stops the writer for good: the futures in
flight fail with it, later submits raise, and the next start recovers the files (what was
written may or may not be there; nothing that was acknowledged is lost).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Final, Literal

from driftline import telemetry
from driftline.errors import TooLargeError, WalFullError
from driftline.wal.catalog import Catalog
from driftline.wal.framing import HEADER_SIZE, MAX_PAYLOAD, encode_header
from driftline.wal.fsio import fsync_dir, write_all
from driftline.wal.segment import Segment, segment_name

log = logging.getLogger(__name__)

SyncPolicy = Literal["always", "interval", "never"]
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
_DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
# Free space to find, beyond the group that did not fit, before appending resumes.
RESUME_HEADROOM: Final = 1 << 20
PROBE_FILE: Final = "space-probe.tmp"

_Pending = tuple[int, bytes, "Future[int]"]


class _Run:
    """The part of one group that lands in one segment."""

    __slots__ = ("bufs", "futures", "nbytes", "new_segment", "segment", "sizes", "starts")

    def __init__(self, segment: Segment, *, new_segment: bool = False) -> None:
        self.segment = segment
        self.new_segment = new_segment
        self.bufs: list[bytes] = []
        self.starts: list[int] = []
        self.sizes: list[int] = []
        self.futures: list[tuple[Future[int], int]] = []
        self.nbytes = 0


class GroupCommitWriter:
    def __init__(
        self,
        directory: Path,
        catalog: Catalog,
        *,
        next_id: int,
        active: Segment | None,
        sync: SyncPolicy,
        sync_interval_s: float,
        segment_bytes: int,
        max_bytes: int,
        retry_after_s: float,
        on_rotate: Callable[[], None] | None = None,
        on_group: Callable[[], None] | None = None,
        probe_interval_s: float = 0.5,
    ) -> None:
        self._dir = directory
        self._catalog = catalog
        self._next_id = next_id
        self._sync = sync
        self._sync_interval_s = sync_interval_s
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._retry_after_s = retry_after_s
        self._on_rotate = on_rotate
        self._on_group = on_group
        self._probe_interval_s = probe_interval_s
        self._full: str | None = None  # why appends are refused until space returns
        self._full_needs = 0  # bytes the refused group needed
        self._created: list[Path] = []  # segment files the group being committed created
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._queued_bytes = 0
        self._closing = False
        self._error: BaseException | None = None
        self._active = active
        self._fd = -1
        if active is not None and active.end_id == next_id and active.size < segment_bytes:
            self._fd = os.open(active.path, _OPEN_FLAGS)
        else:
            self._active = None  # the first write starts a new segment
        self._dirty = False  # written but not yet fdatasync'ed
        self._last_sync = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="wal-writer", daemon=True)
        self._thread.start()

    @property
    def next_id(self) -> int:
        """The id the next record will get (ids below it may be on disk or in flight)."""
        return self._next_id

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def health(self) -> str | None:
        """None while appends work; otherwise why they do not (disk full, writer failed)."""
        if self._error is not None:
            return f"the WAL writer failed: {self._error}"
        return self._full

    # ---- callers -----------------------------------------------------------------------------

    def submit(self, kind: int, payload: bytes) -> Future[int]:
        if not 0 <= kind <= 255:
            raise ValueError(f"kind must be within 0..255, got {kind}")
        if type(payload) is not bytes:
            payload = bytes(payload)  # the checksum wants bytes; a bytearray may change later
        size = HEADER_SIZE + len(payload)
        if len(payload) > MAX_PAYLOAD or size > self._max_bytes:
            raise TooLargeError(
                f"a {len(payload)}-byte record can never fit in a WAL capped at "
                f"{self._max_bytes} bytes"
            )
        future: Future[int] = Future()
        future.set_running_or_notify_cancel()  # no cancelling once queued: it will be written
        with self._lock:
            if self._closing:
                raise RuntimeError("the WAL is closed")
            if self._error is not None:
                raise RuntimeError(f"the WAL writer failed: {self._error}") from self._error
            if self._full is not None:
                raise WalFullError(self._full + "; retry later", delay_s=self._retry_after_s)
            if self._catalog.total_bytes + self._queued_bytes + size > self._max_bytes:
                raise WalFullError(
                    f"the WAL is full ({self._max_bytes >> 20} MiB); retry later",
                    delay_s=self._retry_after_s,
                )
            self._queue.append((kind, payload, future))
            self._queued_bytes += size
            if len(self._queue) == 1:
                self._wake.notify()
        return future

    def close(self) -> None:
        """Write and fsync everything queued, then stop the thread. Idempotent."""
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # ---- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                if self._full is not None and not self._closing:
                    self._wait_for_space()
                    continue
                with self._lock:
                    while not self._queue and not self._closing:
                        if self._dirty and self._sync == "interval":
                            due = self._last_sync + self._sync_interval_s - time.monotonic()
                            if due <= 0:
                                break
                            self._wake.wait(due)
                        else:
                            self._wake.wait()
                    batch, self._queue = self._queue, []
                    closing = self._closing
                if batch:
                    self._commit(batch)
                elif self._dirty:
                    self._fdatasync()  # interval due, or closing
                if closing and not batch:
                    return
        except BaseException as e:  # an I/O error: stop for good, fail everything waiting
            log.exception("WAL writer failed; no further appends until restart")
            with self._lock:
                self._error = e
                batch, self._queue = self._queue, []
                self._queued_bytes = 0
            for _, _, future in batch:
                future.set_exception(e)

    def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        runs: list[_Run] = []
        segment = self._active
        base = segment  # what a roll-back returns to
        self._created = []
        pos = segment.size if segment is not None else 0
        run = _Run(segment) if segment is not None else None
        record_id = self._next_id
        payload_bytes = 0
        try:
            for kind, payload, future in batch:
                size = HEADER_SIZE + len(payload)
                if run is None or (pos > 0 and pos + size > self._segment_bytes):
                    if run is not None and run.bufs:
                        self._write(run)
                        runs.append(run)
                    run = _Run(self._rotate(record_id), new_segment=True)
                    pos = 0
                run.bufs.append(encode_header(kind, record_id, payload))
                run.bufs.append(payload)
                run.starts.append(pos)
                run.sizes.append(size)
                run.futures.append((future, record_id))
                run.nbytes += size
                pos += size
                payload_bytes += len(payload)
                record_id += 1
            assert run is not None
            self._write(run)
            runs.append(run)
            if self._sync == "always" or (
                self._sync == "interval"
                and time.monotonic() - self._last_sync >= self._sync_interval_s
            ):
                self._fdatasync()
            self._next_id = record_id
        except OSError as e:
            group = sum(HEADER_SIZE + len(p) for _, p, _ in batch)
            if e.errno in _DISK_FULL and self._roll_back(base):
                self._enter_full(e, group, batch)
                return
            self._fail(e, record_id, batch)
            raise
        except BaseException as e:
            self._fail(e, record_id, batch)
            raise

        group_bytes = 0
        for done in runs:
            self._catalog.publish(
                done.segment, done.starts, done.sizes, done.nbytes, new_segment=done.new_segment
            )
            group_bytes += done.nbytes
        with self._lock:
            self._queued_bytes -= group_bytes
        if self._on_rotate is not None and any(done.new_segment for done in runs):
            self._on_rotate()  # the sealed segment may already be passed by every cursor
        telemetry.WAL_SYNC_SECONDS.observe(time.perf_counter() - started)
        telemetry.WAL_APPENDS.inc(len(batch))
        telemetry.WAL_APPENDED_BYTES.inc(payload_bytes)
        for done in runs:
            for future, rid in done.futures:
                future.set_result(rid)
        if self._on_group is not None:
            self._on_group()

    def _fail(self, e: BaseException, record_id: int, batch: list[_Pending]) -> None:
        """Stop for good: fail the group, and never reuse an id that may be on disk."""
        self._next_id = max(self._next_id, record_id)
        with self._lock:  # before any waiter wakes: a retry must see the writer as failed
            self._error = e
        for _, _, future in batch:
            if not future.done():
                future.set_exception(e)

    def _roll_back(self, base: Segment | None) -> bool:
        """Undo a group that did not fit: remove the segments it created, cut the segment it
        appended to back to its last published frame, reopen that for appending. True when
        the files are as they were before the group (so its ids can be given out again)."""
        try:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            for path in self._created:
                path.unlink(missing_ok=True)
            if self._created:
                fsync_dir(self._dir)
            self._active = base
            if base is not None:
                self._fd = os.open(base.path, _OPEN_FLAGS)
                os.ftruncate(self._fd, base.size)  # base.size: what the catalog published
            self._dirty = base is not None
            return True
        except OSError:
            log.exception("WAL writer could not roll back a group that hit a full disk")
            return False

    def _enter_full(self, e: OSError, group_bytes: int, batch: list[_Pending]) -> None:
        reason = f"the disk holding the WAL is full ({e.strerror or e})"
        log.error("%s: refusing appends (UNAVAILABLE + RetryInfo) until space returns", reason)
        telemetry.WAL_DISK_FULL.inc()
        with self._lock:
            self._full = reason
            self._full_needs = group_bytes
            waiting, self._queue = self._queue, []
            self._queued_bytes -= group_bytes + sum(HEADER_SIZE + len(p) for _, p, _ in waiting)
        refusal = WalFullError(reason + "; retry later", delay_s=self._retry_after_s)
        for _, _, future in [*batch, *waiting]:
            if not future.done():
                future.set_exception(refusal)

    def _wait_for_space(self) -> None:
        """While full: probe every probe_interval_s; resume when the space is there again."""
        with self._lock:
            self._wake.wait(self._probe_interval_s)
            if self._closing:
                return
        if not self._space_for(self._full_needs + RESUME_HEADROOM):
            return
        log.warning("WAL: disk space is back; appends resume")
        with self._lock:
            self._full = None

    def _space_for(self, nbytes: int) -> bool:
        """Whether `nbytes` can be allocated next to the segments: reserve them for real in
        a scratch file (free-space figures lie under quotas and reserved blocks)."""
        path = self._dir / PROBE_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.posix_fallocate(fd, 0, nbytes)
            finally:
                os.close(fd)
                path.unlink(missing_ok=True)
        except OSError as e:
            if e.errno in _DISK_FULL:
                return False
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            return shutil.disk_usage(self._dir).free >= nbytes
        return True

    def _write(self, run: _Run) -> None:
        write_all(self._fd, run.bufs)
        self._dirty = True
        run.bufs = []  # let payloads go as soon as they are in the page cache

    def _fdatasync(self) -> None:
        os.fdatasync(self._fd)
        self._dirty = False
        self._last_sync = time.monotonic()

    def _rotate(self, first_id: int) -> Segment:
        """Seal the active segment (durably, unless sync is "never") and start a new one."""
        if self._fd >= 0:
            if self._dirty and self._sync != "never":
                self._fdatasync()
            os.close(self._fd)
            self._fd = -1
        path = self._dir / segment_name(first_id)
        self._fd = os.open(path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o644)
        self._created.append(path)
        fsync_dir(self._dir)  # the new name must survive a crash before its records are acked
        segment = Segment(first_id, path)
        self._active = segment
        self._dirty = False
        return segment
