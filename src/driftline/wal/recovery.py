"""Startup recovery: reconcile the segment files and the ledger before anything is appended.

Conservative, like Vector's checkpoint_recovery, and accountable: every record id recovery
expected is either handed out again or reported — in the log and on /metrics — as set aside.

For every segment, oldest first (segment.py scans one):

- an incomplete frame at the end of the LAST segment, past every id the ledger knew of, is a
  torn write (never durable, so never acknowledged): the file is truncated to the last whole
  frame;
- any other damage — a complete frame with a bad magic or checksum, a frame whose id does not
  fit, torn bytes at the end of an older segment or below the ledger's `next_id` — is counted,
  copied to `quarantine/`, and skipped; the scan keeps the longest consistent chain of intact
  frames, so no intact record after (or between) damage is lost. A damaged tail of the last
  segment is truncated after its bytes are safely set aside, so new frames follow intact ones.

Then the ids are accounted for. Expected are all ids from the oldest any cursor still needs
(one past the smallest checkpoint; segments below it may have been deleted legitimately) up
to one below `next_id`, the largest id anything shows was handed out: the segments, the
ledger's `next_id` (refreshed at least every second while records arrive, see log.py) and its
checkpoints. An expected id without an intact frame is `corrupt` when damaged bytes of it were
found, `missing` when its bytes are gone (a segment cut short, emptied or deleted). Both are
logged with their id ranges, counted on /metrics, and count as acknowledged by every cursor.
Ids never go backwards.

A ledger that cannot be read (a flipped bit, a half-written disk) does not stop the start:
it is set aside in `quarantine/`, and the WAL is rebuilt from the segments alone — the next
id from the newest segment, every cursor from the oldest record on disk (consumers see some
records again: the ClickHouse sink deduplicates them, forwarders deliver at least once). This
is logged as an error and counted (`driftline_wal_ledger_rebuilt`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import google_crc32c

from driftline import telemetry
from driftline.errors import WalCorruptionError
from driftline.wal.framing import FrameStatus
from driftline.wal.fsio import fsync_dir, replace_atomically
from driftline.wal.ledger import Ledger, LedgerState
from driftline.wal.segment import Segment, list_segments, scan_segment

log = logging.getLogger(__name__)

QUARANTINE_DIR: Final = "quarantine"
_SHOWN_RANGES: Final = 8  # id ranges quoted in one log line; the rest are summarised


@dataclass(slots=True)
class Recovered:
    segments: list[Segment]
    next_id: int
    acked_through: dict[str, int]  # for the cursors asked for
    lost: list[tuple[int, int]]  # inclusive id ranges below next_id with no intact record
    appendable: Segment | None  # the newest segment, if new frames may follow its last one
    corrupt_records: int = 0  # expected ids whose damaged bytes were set aside
    missing_records: int = 0  # expected ids whose bytes are gone
    torn_bytes_truncated: int = 0
    ledger_rebuilt: bool = False  # the ledger was unreadable: rebuilt from the segments
    forgotten_cursors: list[str] = field(default_factory=list)


def quarantine(directory: Path, source: Path, start: int, data: bytes) -> Path:
    """Set damaged bytes aside (durably) as `quarantine/<segment>.<offset>.<crc>.bad`.
    Setting the same bytes aside again (a later restart meets the same damage) is a no-op."""
    qdir = directory / QUARANTINE_DIR
    if not qdir.is_dir():
        qdir.mkdir()
        fsync_dir(directory)
    path = qdir / f"{source.name}.{start:012d}.{google_crc32c.value(data):08x}.bad"
    if not path.exists():
        replace_atomically(path, data)
    return path


def recover(directory: Path, cursors: Sequence[str]) -> Recovered:
    directory.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(directory)
    ledger.remove_leftovers()
    state, rebuilt = _load_ledger(directory, ledger)
    known_next = state.next_id  # ids below it were handed out, as far as the ledger knows

    files = list_segments(directory)
    segments: list[Segment] = []
    corrupt_ids: list[tuple[int, int]] = []
    torn = 0
    changed_dir = False
    appendable: Segment | None = None
    end_ids = [1]  # one past every id a segment accounts for, deleted empty ones included
    for i, (first_id, path) in enumerate(files):
        is_last = i == len(files) - 1
        buf = path.read_bytes()
        scan = scan_segment(buf, first_id, None if is_last else files[i + 1][0])
        if scan.overruns:
            raise WalCorruptionError(
                f"WAL segment {path.name} holds records past id {files[i + 1][0] - 1}, "
                f"inside the next segment's ids ({files[i + 1][1].name}); the directory "
                "cannot be read"
            )
        end_ids.append(scan.end_id)
        tail = scan.tail_damage
        for damage in scan.damage:
            ids = damage.lost_ids
            if damage is tail and is_last and not ids:
                if ids.start >= known_next and damage.status is FrameStatus.TORN:
                    torn += damage.end - damage.start
                    log.warning(
                        "WAL %s: truncating a torn write of %d bytes at offset %d",
                        path.name, damage.end - damage.start, damage.start,
                    )  # fmt: skip
                    continue
                if ids.start < known_next:
                    # The ledger saw this id handed out: these bytes are what is left of it.
                    ids = range(ids.start, ids.start + 1)
            if ids:
                corrupt_ids.append((ids.start, ids.stop - 1))
            where = quarantine(directory, path, damage.start, buf[damage.start : damage.end])
            log.error(
                "WAL %s: damaged bytes %d..%d (ids %s) set aside in %s",
                path.name, damage.start, damage.end, _ids(ids), where,
            )  # fmt: skip
        size = scan.size
        if is_last and tail is not None:
            size = scan.clean_end
            _truncate(path, size)
        segment = Segment(first_id, path, size)
        segment.starts, segment.sizes = scan.starts, scan.sizes
        if is_last and size == 0 and not segment.starts:
            path.unlink()  # an empty newest segment: the writer starts a fresh one
            changed_dir = True
            continue
        segments.append(segment)
        if is_last and (tail is None or tail.status is FrameStatus.TORN):
            # After a corrupt tail (cut off, its id possibly claimed) new frames would no
            # longer sit where their ids say they can: they go to a new segment instead.
            appendable = segment
    if changed_dir:
        fsync_dir(directory)

    next_id = max([state.next_id, *end_ids] + [n + 1 for n in state.acked_through.values()])
    oldest = segments[0].first_id if segments else next_id
    lost = _lost_ranges(segments, next_id)
    corrupt, missing = _account(lost, corrupt_ids, _expected_from(state, rebuilt, oldest))
    _report(directory, corrupt, missing)
    acked = {name: state.acked_through.get(name, oldest - 1) for name in cursors}
    forgotten = sorted(set(state.acked_through) - set(cursors))
    if forgotten:
        log.warning("WAL cursors no longer configured, their checkpoints dropped: %s", forgotten)
    if rebuilt:
        log.error(
            "WAL ledger rebuilt from the segments: next id %d; every cursor (%s) replays from "
            "id %d, the oldest on disk — consumers will see records again",
            next_id, ", ".join(cursors) or "none", oldest,
        )  # fmt: skip
    return Recovered(
        segments=segments,
        next_id=next_id,
        acked_through=acked,
        lost=lost,
        appendable=appendable,
        corrupt_records=_count(corrupt),
        missing_records=_count(missing),
        torn_bytes_truncated=torn,
        ledger_rebuilt=rebuilt,
        forgotten_cursors=forgotten,
    )


def _load_ledger(directory: Path, ledger: Ledger) -> tuple[LedgerState, bool]:
    """The ledger's state, or — if it cannot be read — an empty one and True, after setting
    the damaged file aside (never deleted: someone may want to look at it)."""
    try:
        return ledger.load() or LedgerState(), False
    except WalCorruptionError as exc:
        data = ledger.path.read_bytes()
        where = quarantine(directory, ledger.path, int(time.time()), data)
        ledger.path.unlink()
        fsync_dir(directory)
        telemetry.WAL_LEDGER_REBUILT.inc()
        log.error("%s; it was set aside in %s and is rebuilt from the segments", exc, where)
        return LedgerState(), True


def _expected_from(state: LedgerState, rebuilt: bool, oldest: int) -> int:
    """The first id that must still be on disk: one past the smallest checkpoint (segments
    at or below it may have been deleted). Without checkpoints: everything on disk, or — for
    a ledger that exists but has no cursors, so never deleted anything — from id 1."""
    if state.acked_through:
        return min(state.acked_through.values()) + 1
    if rebuilt or state.next_id == 1:
        return oldest
    return 1


def _lost_ranges(segments: Sequence[Segment], next_id: int) -> list[tuple[int, int]]:
    lost = []
    expect = 1
    for segment in segments:
        for first, last in segment.intact_runs():
            if first > expect:
                lost.append((expect, first - 1))
            expect = last + 1
    if expect <= next_id - 1:
        lost.append((expect, next_id - 1))
    return lost


def _account(
    lost: Iterable[tuple[int, int]], corrupt_ids: Iterable[tuple[int, int]], expected_from: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Split the lost ids that were expected into (corrupt, missing) ranges: corrupt where
    damaged bytes were found and set aside, missing where nothing of them is left."""
    damaged = sorted(corrupt_ids)
    corrupt: list[tuple[int, int]] = []
    missing: list[tuple[int, int]] = []
    for first, last in lost:
        first = max(first, expected_from)
        if first > last:
            continue
        for a, b in damaged:
            if b < first or a > last:
                continue
            if a > first:
                missing.append((first, a - 1))
            if first > last:
                break
            corrupt.append((max(a, first), min(b, last)))
            first = min(b, last) + 1
        if first <= last:
            missing.append((first, last))
    return corrupt, missing


def _report(
    directory: Path, corrupt: list[tuple[int, int]], missing: list[tuple[int, int]]
) -> None:
    if corrupt:
        telemetry.WAL_CORRUPT_RECORDS.inc(_count(corrupt))
        log.error(
            "WAL %s: %d damaged record(s) set aside in %s/ (ids %s); counted as acknowledged",
            directory, _count(corrupt), QUARANTINE_DIR, _ranges(corrupt),
        )  # fmt: skip
    if missing:
        telemetry.WAL_MISSING_RECORDS.inc(_count(missing))
        log.error(
            "WAL %s: %d record(s) are gone from the segments (ids %s): a segment was cut "
            "short, emptied or deleted; counted as acknowledged",
            directory, _count(missing), _ranges(missing),
        )  # fmt: skip


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _count(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(last - first + 1 for first, last in ranges)


def _ranges(ranges: Sequence[tuple[int, int]]) -> str:
    shown = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in ranges[:_SHOWN_RANGES])
    more = len(ranges) - _SHOWN_RANGES
    return shown + (f" and {more} more range(s)" if more > 0 else "")


def _ids(ids: range) -> str:
    if not ids:
        return "none"
    return f"{ids.start}" if len(ids) == 1 else f"{ids.start}..{ids.stop - 1}"
