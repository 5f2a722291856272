from __future__ import annotations

from pathlib import Path

from driftline.wal.framing import FrameStatus, encode_frame
from driftline.wal.segment import (
    NOT_INTACT,
    list_segments,
    parse_segment_name,
    scan_segment,
    segment_name,
)


def _frames(first_id: int, payloads: list[bytes]) -> tuple[bytes, list[int]]:
    data = b""
    starts = []
    for i, payload in enumerate(payloads):
        starts.append(len(data))
        data += encode_frame(1, first_id + i, payload)
    return data, starts


def test_segment_names_are_zero_padded_first_ids_that_sort_by_id() -> None:
    assert segment_name(1) == "00000000000000000001.wal"
    assert parse_segment_name(segment_name(12345)) == 12345
    assert parse_segment_name("ledger.json") is None
    assert parse_segment_name("1.wal") is None
    names = [segment_name(n) for n in (10, 9, 100)]
    assert sorted(names) == [segment_name(n) for n in (9, 10, 100)]


def test_list_segments_ignores_other_files(tmp_path: Path) -> None:
    for name in (segment_name(7), segment_name(3), "ledger.json", "LOCK", "x.wal.tmp"):
        (tmp_path / name).write_bytes(b"")
    assert [first for first, _ in list_segments(tmp_path)] == [3, 7]


def test_scan_indexes_every_frame_of_a_healthy_segment() -> None:
    data, starts = _frames(10, [b"a", b"bb", b""])
    scan = scan_segment(data, 10)
    assert list(scan.starts) == starts and scan.damage == [] and scan.end_id == 13


def test_scan_resyncs_after_a_corrupt_frame_and_names_the_lost_id() -> None:
    data, starts = _frames(1, [b"one" * 10, b"two" * 10, b"three" * 10])
    damaged = bytearray(data)
    damaged[starts[1] + 20] ^= 0x40  # inside the second payload
    scan = scan_segment(bytes(damaged), 1)
    assert list(scan.starts) == [starts[0], NOT_INTACT, starts[2]]
    (damage,) = scan.damage
    assert (damage.start, damage.end, damage.lost_ids) == (starts[1], starts[2], range(2, 3))


def test_scan_resyncs_after_a_damaged_length_field() -> None:
    data, starts = _frames(1, [b"x" * 40, b"y" * 40, b"z" * 40])
    damaged = bytearray(data)
    damaged[starts[0] + 4] ^= 0x10  # payload_len of the first frame: now far past the end
    scan = scan_segment(bytes(damaged), 1)
    assert list(scan.starts) == [NOT_INTACT, starts[1], starts[2]]
    assert scan.damage[0].status is FrameStatus.CORRUPT


def test_a_torn_tail_is_reported_as_torn() -> None:
    data, starts = _frames(1, [b"x" * 40, b"y" * 40])
    scan = scan_segment(data[:-5], 1)
    assert list(scan.starts) == [starts[0]]
    (damage,) = scan.damage
    assert damage.status is FrameStatus.TORN and damage.lost_ids == range(2, 2)
    assert scan.clean_end == starts[1]


def test_a_complete_corrupt_tail_claims_its_id_so_it_is_never_reused() -> None:
    data, starts = _frames(1, [b"x" * 40, b"y" * 40])
    damaged = bytearray(data)
    damaged[-1] ^= 1
    scan = scan_segment(bytes(damaged), 1)
    assert scan.end_id == 3 and list(scan.starts) == [starts[0], NOT_INTACT]
    assert scan.damage[0].status is FrameStatus.CORRUPT


def test_a_valid_frame_with_an_unexpected_id_is_not_trusted() -> None:
    data = encode_frame(1, 1, b"a") + encode_frame(1, 7, b"b") + encode_frame(1, 3, b"c")
    scan = scan_segment(data, 1)
    # id 7 cannot be the 2nd frame of a segment starting at 1; the 3rd frame is id 3
    assert scan.end_id == 4 and scan.starts[1] == NOT_INTACT and scan.starts[2] != NOT_INTACT


def test_trailing_zeros_after_the_last_frame_are_damage_not_records() -> None:
    data, starts = _frames(1, [b"x" * 40])
    scan = scan_segment(data + bytes(100), 1)
    assert list(scan.starts) == starts
    assert scan.tail_damage is not None and scan.clean_end == len(data)
