"""Segment files: their names, the in-memory index of one segment, and scanning its bytes.

A segment is named after the id of its first record, zero-padded so that names sort by id
(`00000000000000000001.wal`). Inside a segment ids are contiguous: the k-th frame holds id
`first_id + k`. Scanning relies on that to tell a real frame from bytes that merely look like
one, and to know exactly which ids a damaged stretch of bytes swallowed.
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
    """A stretch of bytes that holds no intact frame. `lost_ids` are the ids it swallowed
    (as far as the surrounding ids prove; a damaged tail claims the id in its header)."""

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

    @property
    def end_id(self) -> int:
        return self.first_id + len(self.starts)

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


def _resync(buf: bytes, pos: int, first_id: int, last_id: int) -> tuple[int, int] | None:
    """The first offset >= pos holding a frame that is intact (magic, length within the buffer,
    checksum) and whose id is consistent: greater than `last_id`, and no greater than the number
    of frames that could fit before it allows. Returns (offset, record id) or None."""
    n = len(buf)
    while True:
        pos = buf.find(MAGIC_BYTE, pos)
        if pos < 0:
            return None
        header = decode_header(buf, pos)
        if header is None:
            return None
        if (
            header.magic == MAGIC
            and last_id < header.record_id <= first_id + pos // HEADER_SIZE
            and pos + header.frame_size <= n
            and checksum_matches(header, buf[pos + HEADER_SIZE : pos + header.frame_size])
        ):
            return pos, header.record_id
        pos += 1


def scan_segment(buf: bytes, first_id: int) -> SegmentScan:
    """Index every intact frame of one segment's bytes and describe every damaged stretch.

    After damage the scan resynchronises on the next intact frame whose id is consistent, so
    every intact record after a bad one is kept. A damaged tail whose header still names the
    expected id (a complete frame with a bad checksum) claims that id, so it is never reused.
    """
    scan = SegmentScan(first_id=first_id, size=len(buf))
    starts, sizes = scan.starts, scan.sizes
    expect = first_id
    offset = 0
    n = len(buf)
    while offset < n:
        status, frame, end = decode_frame(buf, offset)
        if frame is not None and frame.record_id == expect:
            starts.append(offset)
            sizes.append(end - offset)
            expect += 1
            offset = end
            continue
        found = _resync(buf, offset + 1, first_id, expect - 1)
        if found is None:
            claimed = 0
            if status is FrameStatus.CORRUPT:
                header = decode_header(buf, offset)
                if (
                    header is not None
                    and header.magic == MAGIC
                    and header.record_id == expect
                    and offset + header.frame_size <= n
                ):
                    claimed = 1
            for _ in range(claimed):
                starts.append(NOT_INTACT)
                sizes.append(0)
            scan.damage.append(Damage(offset, n, status, range(expect, expect + claimed)))
            break
        resync_at, next_id = found
        for _ in range(next_id - expect):
            starts.append(NOT_INTACT)
            sizes.append(0)
        scan.damage.append(Damage(offset, resync_at, FrameStatus.CORRUPT, range(expect, next_id)))
        expect = next_id
        offset = resync_at
    return scan
