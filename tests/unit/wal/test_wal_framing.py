from __future__ import annotations

import struct

import pytest

from driftline.wal.framing import (
    HEADER_SIZE,
    MAGIC,
    FrameStatus,
    decode_frame,
    decode_header,
    encode_frame,
    encode_header,
)


def test_frame_round_trips_kind_id_and_payload() -> None:
    data = encode_frame(3, 2**40 + 7, b"otlp bytes")
    status, frame, end = decode_frame(data)
    assert status is FrameStatus.VALID and frame is not None
    assert (frame.record_id, frame.kind, frame.payload) == (2**40 + 7, 3, b"otlp bytes")
    assert end == len(data) == HEADER_SIZE + len(b"otlp bytes")


def test_header_layout_is_magic_kind_length_id_crc_little_endian() -> None:
    header = decode_header(encode_header(2, 5, b"abc"))
    assert header is not None
    assert (header.magic, header.kind, header.payload_len, header.record_id) == (MAGIC, 2, 3, 5)
    assert HEADER_SIZE == 18


def test_empty_payload_is_a_valid_frame() -> None:
    status, frame, end = decode_frame(encode_frame(0, 1, b""))
    assert status is FrameStatus.VALID and frame is not None and frame.payload == b""
    assert end == HEADER_SIZE


def test_frames_decode_one_after_another_from_an_offset() -> None:
    data = encode_frame(1, 1, b"a" * 10) + encode_frame(2, 2, b"b" * 20)
    _, first, offset = decode_frame(data, 0)
    status, second, end = decode_frame(data, offset)
    assert first is not None and second is not None
    assert status is FrameStatus.VALID and second.payload == b"b" * 20 and end == len(data)


def test_every_truncation_of_a_frame_is_torn() -> None:
    data = encode_frame(1, 9, b"payload!" * 4)
    for cut in range(len(data)):
        status, frame, _ = decode_frame(data[:cut])
        assert status is FrameStatus.TORN and frame is None, cut


def test_every_single_bit_flip_is_detected() -> None:
    data = encode_frame(1, 9, b"payload!" * 4)
    for bit in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        status, frame, _ = decode_frame(bytes(damaged))
        assert status in (FrameStatus.CORRUPT, FrameStatus.TORN) and frame is None, bit


def test_a_wrong_magic_is_corrupt_and_suggests_resyncing_at_the_next_byte() -> None:
    data = bytearray(encode_frame(1, 1, b"x"))
    data[0] = 0x00
    assert decode_frame(bytes(data), 0) == (FrameStatus.CORRUPT, None, 1)


def test_a_bad_checksum_with_intact_length_reports_the_declared_end() -> None:
    data = bytearray(encode_frame(1, 1, b"hello"))
    data[-1] ^= 0xFF
    status, frame, end = decode_frame(bytes(data))
    assert (status, frame, end) == (FrameStatus.CORRUPT, None, len(data))


def test_kind_outside_a_byte_is_refused() -> None:
    with pytest.raises(struct.error):
        encode_header(256, 1, b"")
