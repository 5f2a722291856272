"""Framing and recovery properties: round trips, a cut at any offset, bit flips anywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from driftline.wal import Wal
from driftline.wal.framing import FrameStatus, decode_frame, encode_frame
from driftline.wal.segment import scan_segment
from tests.unit.wal.wal_helpers import config, flip_bit, frame_bounds, read_all, segments

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WAL_RUNS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

records_st = st.lists(
    st.tuples(st.integers(0, 255), st.binary(max_size=300)), min_size=1, max_size=12
)


@FAST
@given(records=records_st, first_id=st.integers(1, 2**63))
def test_encoded_frames_scan_back_to_the_same_records(
    records: list[tuple[int, bytes]], first_id: int
) -> None:
    data = b"".join(encode_frame(k, first_id + i, p) for i, (k, p) in enumerate(records))
    scan = scan_segment(data, first_id)
    assert scan.damage == [] and scan.end_id == first_id + len(records)
    decoded = []
    for start in scan.starts:
        status, frame, _ = decode_frame(data, start)
        assert status is FrameStatus.VALID and frame is not None
        decoded.append((frame.kind, frame.payload))
    assert decoded == records


@FAST
@given(records=records_st, data=st.data())
def test_a_cut_at_any_offset_scans_to_exactly_the_whole_frames_before_it(
    records: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    frames = [encode_frame(k, 1 + i, p) for i, (k, p) in enumerate(records)]
    blob = b"".join(frames)
    cut = data.draw(st.integers(0, len(blob)), label="cut")
    scan = scan_segment(blob[:cut], 1)
    ends = [sum(len(f) for f in frames[: i + 1]) for i in range(len(frames))]
    whole = sum(1 for end in ends if end <= cut)
    assert len(scan.starts) == whole and all(s >= 0 for s in scan.starts)
    assert scan.clean_end == (ends[whole - 1] if whole else 0)
    tail = scan.tail_damage
    assert (tail is None) == (scan.clean_end == cut)
    if tail is not None:
        assert tail.status is FrameStatus.TORN


def _write(directory: Path, sizes: list[int], seed: int) -> dict[int, bytes]:
    payloads = {}
    with Wal.open(config(segment_size_mib=1), directory, ["sink"]) as wal:
        for i, size in enumerate(sizes):
            payload = (seed + i).to_bytes(8, "little") * (size // 8 + 1)
            payload = payload[:size]
            payloads[wal.append(1, payload)] = payload
    return payloads


sizes_st = st.lists(st.integers(0, 400_000), min_size=1, max_size=8)


@WAL_RUNS
@given(sizes=sizes_st, seed=st.integers(0, 2**32), data=st.data())
@example(sizes=[10, 10], seed=0, data=None).via("a cut right after the first frame")
def test_reopen_after_a_segment_is_cut_at_any_offset_keeps_exactly_the_whole_records_before_it(
    sizes: list[int], seed: int, data: st.DataObject | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        payloads = _write(directory, sizes, seed)
        bounds = frame_bounds(directory)
        files = segments(directory)
        if data is None:
            victim, cut = files[-1], bounds[0][2]
        else:
            victim = data.draw(st.sampled_from(files), label="segment")
            cut = data.draw(st.integers(0, victim.stat().st_size), label="cut")
        with victim.open("r+b") as f:
            f.truncate(cut)
        expected = {
            rid: payloads[rid] for path, _, end, rid in bounds if path != victim or end <= cut
        }
        with Wal.open(config(segment_size_mib=1), directory, ["sink"]) as wal:
            got = read_all(wal, "sink")
            assert {rid: payload for rid, _, payload in got} == expected
            assert [r[0] for r in got] == sorted(expected)
            assert wal.append(1, b"after") > max(payloads)


@WAL_RUNS
@given(sizes=sizes_st, seed=st.integers(0, 2**32), data=st.data())
def test_flipped_bits_set_aside_exactly_the_records_they_touch(
    sizes: list[int], seed: int, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        payloads = _write(directory, sizes, seed)
        bounds = frame_bounds(directory)
        flips: dict[tuple[Path, int], int] = {}  # bit -> record id; a bit flipped twice is not
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            path, start, end, rid = data.draw(st.sampled_from(bounds), label="frame")
            offset = data.draw(st.integers(start, end - 1), label="byte")
            bit = offset * 8 + data.draw(st.integers(0, 7), label="bit")
            flip_bit(path, bit)
            if flips.pop((path, bit), None) is None:
                flips[(path, bit)] = rid
        touched = set(flips.values())
        with Wal.open(config(segment_size_mib=1), directory, ["sink"]) as wal:
            got = {rid: payload for rid, _, payload in read_all(wal, "sink")}
            assert got == {rid: p for rid, p in payloads.items() if rid not in touched}
            stats = wal.stats()
            damaged = (
                stats.corrupt_records + stats.missing_records + (stats.torn_bytes_truncated > 0)
            )
            assert (damaged > 0) == bool(touched) and damaged <= len(touched)
            # set-aside records count as acknowledged: acking the rest clears the cursor
            for rid in got:
                wal.ack("sink", rid, rid)
            assert wal.stats().cursors["sink"].acked_through == max(payloads)
