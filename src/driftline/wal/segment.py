"""Segment files: their names, the in-memory index of one segment, and scanning its bytes.

A segment is named after the id of its first record, zero-padded so that names sort by id
(`00000000000000000001.wal`). Inside a segment ids are contiguous: the k-th frame holds id
`first_id + k`. Scanning relies on that to tell a real frame from bytes that merely look like
one, and to know exactly which ids a damaged stretch of bytes swallowed.

Scanning a damaged segment
--------------------------
A healthy segment is read front to back, frame after frame. At the first frame that does not
check out, the scan stops trusting position and collects every *candidate* in the rest of the
bytes: a frame whose magic, length and checksum hold and whose id could belong there. Bytes
copied from elsewhere in the segment are such candidates too — whole, valid frames, only in
the wrong place — so resynchronising on the first one found (what a naive scan does) may jump
ahead onto a copy of later records and skip every intact frame in between. Instead the scan
keeps the longest chain of candidates with increasing ids and increasing offsets that fits the
bytes (ids k..m-1 missing between two frames need at least (m-k)·HEADER_SIZE bytes there):
candidates come in runs of adjacent frames with consecutive ids, and a small dynamic program
over the runs picks the chain. Every intact frame at its place is on that chain unless keeping
it would cost more frames than it saves, which copies and rotted bytes never do. The stretches
between chained frames are the damage; the ids they swallow are exactly the ids the chain
skips.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
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
# Runs of candidate frames a chain may step back over when it is planned (bounds the work of
# the dynamic program on a segment shredded into very many pieces).
_CHAIN_WINDOW: Final = 512


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


class _Run:
    """Candidate frames that follow each other: adjacent bytes, consecutive ids."""

    __slots__ = ("end", "first_id", "sizes", "slack", "starts")

    def __init__(self, start: int, size: int, record_id: int) -> None:
        self.first_id = record_id
        self.starts = [start]
        self.sizes = [size]
        # start - HEADER_SIZE * id: never decreases along a run (every frame is at least
        # HEADER_SIZE long), so "enough bytes for the ids before it" is a bisection.
        self.slack = [start - HEADER_SIZE * record_id]
        self.end = start + size

    @property
    def last_id(self) -> int:
        return self.first_id + len(self.starts) - 1

    def append(self, size: int) -> None:
        record_id = self.last_id + 1
        self.starts.append(self.end)
        self.sizes.append(size)
        self.slack.append(self.end - HEADER_SIZE * record_id)
        self.end += size

    def first_fit(self, after_id: int, after_end: int) -> int:
        """Index of the first frame that may follow a chain ending with id `after_id` at byte
        `after_end`: a greater id, with room for the ids in between; len(starts) if none."""
        lo = max(0, after_id + 1 - self.first_id)
        if lo >= len(self.starts):
            return len(self.starts)
        # (id - after_id - 1) * H <= start - after_end  <=>  slack >= after_end - H*(after_id+1)
        return bisect_left(self.slack, after_end - HEADER_SIZE * (after_id + 1), lo)


def _candidates(buf: bytes, pos: int, first_id: int, after_id: int, id_limit: int) -> list[_Run]:
    """Every intact frame from `pos` on whose id lies in (after_id, id_limit) and could sit
    where it is, grouped into runs. Once a frame checks out the search continues at its end:
    two intact frames never overlap, except a frame embedded in another's payload, which the
    outer one hides (as it should)."""
    runs: list[_Run] = []
    n = len(buf)
    while True:
        pos = buf.find(MAGIC_BYTE, pos)
        if pos < 0 or n - pos < HEADER_SIZE:
            return runs
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
            last = runs[-1] if runs else None
            if last is not None and last.end == pos and last.last_id + 1 == record_id:
                last.append(end - pos)
            else:
                runs.append(_Run(pos, end - pos, record_id))
            pos = end
        else:
            pos += 1


def _longest_chain(runs: list[_Run], after_id: int, after_end: int) -> list[tuple[int, int]]:
    """The chain with the most frames: (run index, first frame taken) in order. Each run is
    taken from some frame to its end; the chain starts after the intact prefix."""
    count = [0] * len(runs)
    parent = [-1] * len(runs)
    take = [0] * len(runs)
    for j, run in enumerate(runs):
        k = run.first_fit(after_id, after_end)
        best, best_parent, best_k = len(run.starts) - k, -1, k
        for i in range(max(0, j - _CHAIN_WINDOW), j):
            if count[i] == 0:
                continue
            prev = runs[i]
            k = run.first_fit(prev.last_id, prev.end)
            total = count[i] + len(run.starts) - k
            if total > best:
                best, best_parent, best_k = total, i, k
        if best_k < len(run.starts):
            count[j], parent[j], take[j] = best, best_parent, best_k
    if not runs or max(count) == 0:
        return []
    j = max(range(len(runs)), key=count.__getitem__)
    chain = []
    while j >= 0:
        chain.append((j, take[j]))
        j = parent[j]
    chain.reverse()
    return chain


def scan_segment(buf: bytes, first_id: int, id_limit: int | None = None) -> SegmentScan:
    """Index every intact frame of one segment's bytes and describe every damaged stretch.

    `id_limit` is the first id of the next segment, when there is one: this segment's ids end
    before it, and ids it should hold but whose bytes are gone are `missing`. The intact prefix
    is read frame by frame; from the first damage on, the longest consistent chain of intact
    frames is kept (see the module docstring), so no intact frame is skipped. A damaged tail
    whose header still names the next id (a complete frame with a bad checksum) claims that
    id, so it is never reused.
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
    if offset < n:
        runs = _candidates(buf, offset, first_id, expect - 1, limit)
        last_id, last_end = expect - 1, offset
        for j, k in _longest_chain(runs, expect - 1, offset):
            run = runs[j]
            start, record_id = run.starts[k], run.first_id + k
            if start > last_end or record_id > last_id + 1:
                scan.damage.append(
                    Damage(last_end, start, FrameStatus.CORRUPT, range(last_id + 1, record_id))
                )
            for _ in range(record_id - last_id - 1):
                starts.append(NOT_INTACT)
                sizes.append(0)
            starts.extend(run.starts[k:])
            sizes.extend(run.sizes[k:])
            last_id, last_end = run.last_id, run.end
        if last_end < n:
            scan.damage.append(_tail_damage(buf, last_end, last_id + 1, limit))
            for _ in scan.damage[-1].lost_ids:
                starts.append(NOT_INTACT)
                sizes.append(0)
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
