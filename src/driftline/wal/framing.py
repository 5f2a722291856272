"""One frame: encode it, decode it, say whether it is whole. Pure bytes in, bytes out.

    struct Frame {              // little-endian; 18-byte header, then the payload
        u8   magic;             // MAGIC: format marker and version in one byte
        u8   kind;              // the caller's tag (1 traces, 2 metrics, 3 logs); opaque here
        u32  payload_len;
        u64  record_id;
        u32  crc32c;            // CRC32C of header bytes [0, 14) followed by the payload
        u8   payload[payload_len];
    }

Do not add, remove, retype or reorder fields: the layout on disk would change. Any change to
the header means a new MAGIC (a new format version), and recovery must learn to read both.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

import google_crc32c

MAGIC: Final = 0xD1  # "driftline, frame format 1"
MAGIC_BYTE: Final = bytes([MAGIC])
_PREFIX: Final = struct.Struct("<BBIQ")  # magic, kind, payload_len, record_id: what the CRC covers
_CRC: Final = struct.Struct("<I")
_HEADER: Final = struct.Struct("<BBIQI")
HEADER_SIZE: Final = _HEADER.size  # 18
MAX_PAYLOAD: Final = 0xFFFF_FFFF
MAX_RECORD_ID: Final = 0xFFFF_FFFF_FFFF_FFFF

_crc_value = google_crc32c.value
_crc_extend = google_crc32c.extend
_pack_prefix = _PREFIX.pack
_pack_crc = _CRC.pack
_unpack_header = _HEADER.unpack_from


class FrameStatus(enum.Enum):
    VALID = "valid"
    TORN = "torn"  # fewer bytes than the header or the declared payload: an unfinished write
    CORRUPT = "corrupt"  # a complete frame whose magic or checksum does not match


@dataclass(frozen=True, slots=True)
class Frame:
    record_id: int
    kind: int
    payload: bytes

    @property
    def size(self) -> int:
        return HEADER_SIZE + len(self.payload)


@dataclass(frozen=True, slots=True)
class Header:
    magic: int
    kind: int
    payload_len: int
    record_id: int
    crc: int

    @property
    def frame_size(self) -> int:
        return HEADER_SIZE + self.payload_len


def encode_header(kind: int, record_id: int, payload: bytes) -> bytes:
    """The 18 header bytes for `payload`; write them followed by the payload itself.

    Kept apart from the payload so the writer can hand both to one `writev` without copying.
    Raises `struct.error` for a kind outside 0..255 or an id outside u64.
    """
    prefix = _pack_prefix(MAGIC, kind, len(payload), record_id)
    crc: int = _crc_extend(_crc_value(prefix), payload)
    return prefix + _pack_crc(crc)


def encode_frame(kind: int, record_id: int, payload: bytes) -> bytes:
    return encode_header(kind, record_id, payload) + payload


def decode_header(buf: bytes, offset: int = 0) -> Header | None:
    """The header at `offset`, unchecked, or None when fewer than HEADER_SIZE bytes remain."""
    if len(buf) - offset < HEADER_SIZE:
        return None
    return Header(*_unpack_header(buf, offset))


def checksum_matches(header: Header, payload: bytes) -> bool:
    prefix = _pack_prefix(header.magic, header.kind, header.payload_len, header.record_id)
    crc: int = _crc_extend(_crc_value(prefix), payload)
    return crc == header.crc


def decode_frame(buf: bytes, offset: int = 0) -> tuple[FrameStatus, Frame | None, int]:
    """Return (status, frame, next_offset). Never raises on bad bytes.

    VALID: `frame` is set and `next_offset` is where the next frame starts. TORN: the bytes end
    before the header or the declared payload does; `next_offset` is len(buf). CORRUPT: the
    frame is complete by its declared length (or the magic is wrong); `next_offset` is the end
    the header declares (or offset + 1 for a bad magic) — not to be trusted for resyncing.
    """
    header = decode_header(buf, offset)
    if header is None:
        return FrameStatus.TORN, None, len(buf)
    if header.magic != MAGIC:
        return FrameStatus.CORRUPT, None, offset + 1
    start = offset + HEADER_SIZE
    end = start + header.payload_len
    if end > len(buf):
        return FrameStatus.TORN, None, len(buf)
    payload = buf[start:end]
    if not checksum_matches(header, payload):
        return FrameStatus.CORRUPT, None, end
    return FrameStatus.VALID, Frame(header.record_id, header.kind, payload), end
