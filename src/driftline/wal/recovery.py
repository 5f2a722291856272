"""Startup recovery: reconcile the segment files and the ledger before anything is appended.

Conservative, like Vector's checkpoint_recovery. For every segment, oldest first:

- an incomplete frame at the end of the LAST segment is a torn write (it was never durable, so
  never acknowledged): the file is truncated to the last whole frame;
- any other damage — a complete frame with a bad magic or checksum, a frame whose id does not
  fit, torn bytes at the end of an older segment — is counted, copied to `quarantine/`, and
  skipped; the scan resynchronises on the next intact frame with a consistent id, so every
  intact record after the damage is kept. A damaged tail of the last segment is truncated
  after its bytes are safely set aside, so new frames follow intact ones;
- the next id is one past the largest id that was ever handed out as far as anything shows:
  the segments, the ledger's `next_id` and its checkpoints. Ids never go backwards, even when
  every segment was deleted;
- checkpoints are taken from the ledger as they are; recovery never guesses a new one. A
  cursor the ledger does not know starts at the oldest record still on disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import google_crc32c

from driftline import telemetry
from driftline.errors import WalCorruptionError
from driftline.wal.framing import FrameStatus
from driftline.wal.fsio import fsync_dir, replace_atomically
from driftline.wal.ledger import Ledger, LedgerState
from driftline.wal.segment import Damage, Segment, list_segments, scan_segment

log = logging.getLogger(__name__)

QUARANTINE_DIR: Final = "quarantine"


@dataclass(slots=True)
class Recovered:
    segments: list[Segment]
    next_id: int
    acked_through: dict[str, int]  # for the cursors asked for
    lost: list[tuple[int, int]]  # inclusive id ranges below next_id with no intact record
    appendable: Segment | None  # the newest segment, if new frames may follow its last one
    corrupt_records: int = 0
    torn_bytes_truncated: int = 0
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


def recover(directory: Path, cursors: Sequence[str]) -> Recovered:
    directory.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(directory)
    ledger.remove_leftovers()
    state = ledger.load() or LedgerState()

    files = list_segments(directory)
    segments: list[Segment] = []
    corrupt = torn = 0
    changed_dir = False
    appendable: Segment | None = None
    end_ids = [1]  # one past every id a segment accounts for, deleted empty ones included
    for i, (first_id, path) in enumerate(files):
        is_last = i == len(files) - 1
        if segments and first_id < segments[-1].end_id:
            raise WalCorruptionError(
                f"WAL segment {path.name} starts at id {first_id}, inside the previous "
                f"segment's ids (up to {segments[-1].last_id}); the directory cannot be read"
            )
        buf = path.read_bytes()
        scan = scan_segment(buf, first_id)
        end_ids.append(scan.end_id)
        for damage in scan.damage:
            at_tail = damage.end == scan.size
            if is_last and at_tail and damage.status is FrameStatus.TORN:
                torn += damage.end - damage.start
                log.warning(
                    "WAL %s: truncating a torn write of %d bytes at offset %d",
                    path.name, damage.end - damage.start, damage.start,
                )  # fmt: skip
                continue
            records = _count(damage, files[i + 1][0] if at_tail and not is_last else None)
            corrupt += records
            where = quarantine(directory, path, damage.start, buf[damage.start : damage.end])
            log.error(
                "WAL %s: %d damaged record(s) (ids %s, bytes %d..%d) set aside in %s",
                path.name, records, _ids(damage), damage.start, damage.end, where,
            )  # fmt: skip
        size = scan.size
        if is_last and scan.tail_damage is not None:
            size = scan.clean_end
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, size)
                os.fsync(fd)
            finally:
                os.close(fd)
        segment = Segment(first_id, path, size)
        segment.starts, segment.sizes = scan.starts, scan.sizes
        if is_last and size == 0 and not segment.starts:
            path.unlink()  # an empty newest segment: the writer starts a fresh one
            changed_dir = True
            continue
        segments.append(segment)
        tail = scan.tail_damage
        if is_last and (tail is None or tail.status is FrameStatus.TORN):
            # After a corrupt tail (cut off, its id possibly claimed) new frames would no
            # longer sit where their ids say they can: they go to a new segment instead.
            appendable = segment
    if changed_dir:
        fsync_dir(directory)
    if corrupt:
        telemetry.WAL_CORRUPT_RECORDS.inc(corrupt)

    next_id = max([state.next_id, *end_ids] + [n + 1 for n in state.acked_through.values()])
    oldest = segments[0].first_id if segments else next_id
    acked = {name: state.acked_through.get(name, oldest - 1) for name in cursors}
    forgotten = sorted(set(state.acked_through) - set(cursors))
    if forgotten:
        log.warning("WAL cursors no longer configured, their checkpoints dropped: %s", forgotten)
    return Recovered(
        segments=segments,
        next_id=next_id,
        acked_through=acked,
        lost=_lost_ranges(segments, next_id),
        appendable=appendable,
        corrupt_records=corrupt,
        torn_bytes_truncated=torn,
        forgotten_cursors=forgotten,
    )


def _count(damage: Damage, next_segment_first_id: int | None) -> int:
    """Records a damaged stretch swallowed: the ids it provably held, at least one."""
    lost = len(damage.lost_ids)
    if next_segment_first_id is not None:
        lost = max(lost, next_segment_first_id - damage.lost_ids.start)
    return max(1, lost)


def _ids(damage: Damage) -> str:
    ids = damage.lost_ids
    return f"{ids.start}..{ids.stop - 1}" if len(ids) else "unknown"
