"""Segment files: their names, the in-memory index of one segment, and scanning its bytes.

A segment is named after the id of its first record, zero-padded so that names sort by id
(`00000000000000000001.wal`). Inside a segment ids are contiguous: the k-th frame holds id
`first_id + k`. Scanning relies on that to tell a real frame from bytes that merely look like
one, and to know exactly which ids a damaged stretch of bytes swallowed.

Scanning a damaged segment
--------------------------
A healthy segment is read front to back, frame after frame. At the first frame that does not
check out, the scan stops trusting position and collects every *candidate* in the rest of the
bytes: a frame whose magic, length and checksum hold, whose id belongs to this segment, and
that has room before it for the frames of the ids below it (HEADER_SIZE bytes each at least).
Bytes copied from elsewhere in the segment are such candidates too — whole, valid frames, only
in the wrong place. A naive scan resynchronises on the first one and, when that is a copy of
later records, skips every intact frame in between; worse, "keep the longest chain of frames
with increasing ids and offsets" still trades intact frames for copies whose originals were
cut off. Neither is needed: a frame's checksum covers its id, so two valid frames with the
same id hold the same record, and the index maps id → offset in any order. So every id gets
the last valid frame that names it (copies land before their source), no intact frame is
ever skipped, and a copy stands in for an original that is gone. The bytes no valid frame
covers are the damage; the ids nobody names are lost.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from driftline.wal.framing import (
    HEADER_SIZE,
    MAGIC,
    MAGIC_BYTE,
    MAX_RECORD_ID,
    FrameStatus,
    checksum_matches,
    decode_frame,
    decode_header,
)

SUFFIX: Final = ".wal"
_NAME: Final = re.compile(r"^(\d{20})\.wal$")
NOT_INTACT: Final = -1  # index entry of an id whose frame was damaged


def segment_name(first_id: int) -> str:
    return f"{first_id:020d}{SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """(first_id, path) of every segment file in `directory`, oldest first."""
    found = []
    for path in directory.iterdir():
        first_id = parse_segment_name(path.name)
        if first_id is not None and path.is_file():
            found.append((first_id, path))
    found.sort()
    return found


class Segment:
    """Where each record of one segment file lives: `starts[id - first_id]` is the frame's
    offset (NOT_INTACT for a damaged one) and `sizes[...]` its length with the header.

    The writer appends to the index of the active segment after each durable group; readers
    look records up in it. Both do so under the WAL's lock.
    """

    __slots__ = ("first_id", "path", "size", "sizes", "starts")

    def __init__(self, first_id: int, path: Path, size: int = 0) -> None:
        self.first_id = first_id
        self.path = path
        self.size = size  # bytes in the file, damaged stretches included
        self.starts: array[int] = array("q")
        self.sizes: array[int] = array("q")

    @property
    def end_id(self) -> int:
        """One past the last id this segment accounts for (intact or not)."""
        return self.first_id + len(self.starts)

    @property
    def last_id(self) -> int:
        return self.end_id - 1

    def offset_of(self, record_id: int) -> int:
        """Where the bytes of `record_id` and everything after it begin (approximate for a
        damaged id: the next intact frame, else the end of the file)."""
        i = max(0, record_id - self.first_id)
        while i < len(self.starts):
            if self.starts[i] != NOT_INTACT:
                return self.starts[i]
            i += 1
        return self.size

    def intact_runs(self) -> list[tuple[int, int]]:
        """Inclusive (first, last) id ranges of intact records, in order."""
        runs: list[tuple[int, int]] = []
        run_start: int | None = None
        for i, start in enumerate(self.starts):
            if start != NOT_INTACT:
                if run_start is None:
                    run_start = i
            elif run_start is not None:
                runs.append((self.first_id + run_start, self.first_id + i - 1))
                run_start = None
        if run_start is not None:
            runs.append((self.first_id + run_start, self.end_id - 1))
        return runs

    def __repr__(self) -> str:
        return f"Segment({self.path.name}, ids {self.first_id}..{self.last_id}, {self.size} B)"


@dataclass(frozen=True, slots=True)
class Damage:
    """A stretch of bytes that holds no intact frame. `lost_ids` are the ids it swallowed:
    those the chain skips across it, or — for a damaged tail — the id its header names, when
    that is the next one and the frame is complete (so it is never reused)."""

    start: int
    end: int
    status: FrameStatus  # TORN or CORRUPT, as seen at `start`
    lost_ids: range


@dataclass(slots=True)
class SegmentScan:
    first_id: int
    size: int
    starts: array[int] = field(default_factory=lambda: array("q"))
    sizes: array[int] = field(default_factory=lambda: array("q"))
    damage: list[Damage] = field(default_factory=list)
    # Ids the segment should hold after its last bytes (known only when the next segment's
    # first id is: an older segment cut short, or emptied). Their bytes are gone entirely.
    missing: range = range(0)
    # An intact frame follows the last id the segment may hold: the segments' names overlap.
    overruns: bool = False

    @property
    def end_id(self) -> int:
        return self.first_id + len(self.starts)

    @property
    def last_intact_id(self) -> int:
        """The id of the last intact frame, or first_id - 1 when there is none."""
        for i in range(len(self.starts) - 1, -1, -1):
            if self.starts[i] != NOT_INTACT:
                return self.first_id + i
        return self.first_id - 1

    @property
    def tail_damage(self) -> Damage | None:
        """The damaged stretch that runs to the end of the file, if any."""
        if self.damage and self.damage[-1].end == self.size:
            return self.damage[-1]
        return None

    @property
    def clean_end(self) -> int:
        """Where the intact part of the file ends (the file size when the tail is whole)."""
        tail = self.tail_damage
        return tail.start if tail is not None else self.size


def _candidates(
    buf: bytes, pos: int, first_id: int, after_id: int, id_limit: int
) -> dict[int, tuple[int, int]]:
    """Every intact frame from `pos` on whose id lies in (after_id, id_limit) and could sit
    where it is: {id: (start, size)}, the last occurrence of each id. Every offset holding the
    magic byte is tried — also inside frames already found — so no frame hides another."""
    found: dict[int, tuple[int, int]] = {}
    n = len(buf)
    while True:
        pos = buf.find(MAGIC_BYTE, pos)
        if pos < 0 or n - pos < HEADER_SIZE:
            return found
        header = decode_header(buf, pos)
        assert header is not None
        record_id = header.record_id
        end = pos + header.frame_size
        if (
            after_id < record_id < id_limit
            and (record_id - first_id) * HEADER_SIZE <= pos
            and end <= n
            and checksum_matches(header, buf[pos + HEADER_SIZE : end])
        ):
            found[record_id] = (pos, end - pos)
        pos += 1


def _uncovered(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The stretches of [start, end) that no (start, end) span covers, in order."""
    gaps = []
    pos = start
    for a, b in sorted(spans):
        if a > pos:
            gaps.append((pos, a))
        pos = max(pos, b)
    if pos < end:
        gaps.append((pos, end))
    return gaps


def scan_segment(buf: bytes, first_id: int, id_limit: int | None = None) -> SegmentScan:
    """Index every intact frame of one segment's bytes and describe every damaged stretch.

    `id_limit` is the first id of the next segment, when there is one: this segment's ids end
    before it, and ids it should hold but whose bytes are gone are `missing`. The intact prefix
    is read frame by frame; from the first damage on, every valid frame of a fitting id is
    kept, wherever it is (see the module docstring). A damaged tail whose header still names
    the next id (a complete frame with a bad checksum) claims that id, so it is never reused.
    """
    scan = SegmentScan(first_id=first_id, size=len(buf))
    starts, sizes = scan.starts, scan.sizes
    limit = MAX_RECORD_ID + 1 if id_limit is None else id_limit
    expect = first_id
    offset = 0
    n = len(buf)
    while offset < n:
        _, frame, end = decode_frame(buf, offset)
        if frame is None or frame.record_id != expect:
            break
        if expect >= limit:
            scan.overruns = True  # the next segment's name says this id belongs there
            break
        starts.append(offset)
        sizes.append(end - offset)
        expect += 1
        offset = end
    if offset < n and not scan.overruns:
        found = _candidates(buf, offset, first_id, expect - 1, limit)
        top = max(found, default=expect - 1)
        for record_id in range(expect, top + 1):
            start, size = found.get(record_id, (NOT_INTACT, 0))
            starts.append(start)
            sizes.append(size)
        spans = [(start, start + size) for start, size in found.values()]
        ends = {start + size: rid for rid, (start, size) in found.items()}
        ids_at = {start: rid for rid, (start, _) in found.items()}
        covered_end = max((b for _, b in spans), default=offset)
        for gap_start, gap_end in _uncovered(spans, offset, covered_end):
            before = ends.get(gap_start, expect - 1 if gap_start == offset else None)
            after = ids_at.get(gap_end)
            lost = range(0)
            if before is not None and after is not None and after > before + 1:
                lost = range(before + 1, after)
            scan.damage.append(Damage(gap_start, gap_end, FrameStatus.CORRUPT, lost))
        if covered_end < n:
            scan.damage.append(_tail_damage(buf, covered_end, top + 1, limit))
            for _ in scan.damage[-1].lost_ids:
                starts.append(NOT_INTACT)
                sizes.append(0)
    elif offset < n:
        scan.damage.append(Damage(offset, n, FrameStatus.CORRUPT, range(0)))
    if id_limit is not None and scan.end_id < id_limit:
        scan.missing = range(scan.end_id, id_limit)
        for _ in scan.missing:
            starts.append(NOT_INTACT)
            sizes.append(0)
    return scan


def _tail_damage(buf: bytes, start: int, next_id: int, id_limit: int) -> Damage:
    """The bytes after the last intact frame. TORN if they end before the frame they begin
    (an unfinished write, when this is the newest segment); CORRUPT otherwise. They claim
    `next_id` when their header names it, or when a later segment proves the id was here."""
    status, _, _ = decode_frame(buf, start)
    if status is FrameStatus.VALID:
        status = FrameStatus.CORRUPT  # a whole frame, but not the one that belongs here
    claimed = 0
    header = decode_header(buf, start)
    if next_id < id_limit and (
        id_limit <= MAX_RECORD_ID  # an older segment: these bytes held (part of) next_id
        or (
            status is FrameStatus.CORRUPT
            and header is not None
            and header.magic == MAGIC
            and header.record_id == next_id
            and start + header.frame_size <= len(buf)
        )
    ):
        claimed = 1
    return Damage(start, len(buf), status, range(next_id, next_id + claimed))
