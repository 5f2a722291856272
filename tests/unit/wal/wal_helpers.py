"""Helpers for the WAL tests (unit, property and crash): configs, payloads derivable from ids,
and direct edits of segment files that stand in for crashes and bit rot."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from driftline.config.model import WalConfig
from driftline.wal import Wal
from driftline.wal.segment import list_segments


def config(**overrides: object) -> WalConfig:
    """Small segments and no fsync unless a test is about syncing: fast, same code paths."""
    values: dict[str, object] = {"sync": "never", "segment_size_mib": 1, "max_size_mib": 64}
    values.update(overrides)
    return WalConfig(**values)  # type: ignore[arg-type]


def payload_for(record_id: int, size: int = 64) -> bytes:
    """A payload that can be recomputed from the id alone."""
    seed = hashlib.blake2b(record_id.to_bytes(8, "little"), digest_size=32).digest()
    return (seed * (size // len(seed) + 1))[:size]


def segments(directory: Path) -> list[Path]:
    return [path for _, path in list_segments(directory)]


def read_all(wal: Wal, cursor: str, timeout_s: float = 0.05) -> list[tuple[int, int, bytes]]:
    """Every record the cursor can still read, as (id, kind, payload)."""
    out: list[tuple[int, int, bytes]] = []
    while True:
        records = wal.read(cursor, 1000, 64 << 20, timeout_s)
        if not records:
            return out
        out.extend((r.id, r.kind, r.payload) for r in records)


def set_file_length(path: Path, length: int) -> None:
    os.truncate(path, length)


def flip_bit(path: Path, bit: int) -> None:
    with path.open("r+b") as f:
        f.seek(bit // 8)
        byte = f.read(1)[0]
        f.seek(bit // 8)
        f.write(bytes([byte ^ (1 << (bit % 8))]))


def frame_bounds(wal_dir: Path) -> list[tuple[Path, int, int, int]]:
    """(segment, start, end, record id) of every frame, from a healthy WAL's files."""
    from driftline.wal.segment import scan_segment

    out = []
    for first_id, path in list_segments(wal_dir):
        scan = scan_segment(path.read_bytes(), first_id)
        assert not scan.damage, f"{path} is not healthy"
        for i, (start, size) in enumerate(zip(scan.starts, scan.sizes, strict=True)):
            out.append((path, start, start + size, first_id + i))
    return out
