"""Fetching planned records from segment files, checking each frame again on the way out.

Files are opened per fetch (cheap next to the read itself), so a segment deleted meanwhile is
never read through a stale or reused descriptor. Payloads come straight from `pread`, with no
copy; the checksum is verified again, so bytes that rotted after startup are never handed out.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from driftline.wal.catalog import Slot
from driftline.wal.framing import HEADER_SIZE, MAGIC, checksum_matches, decode_header


@dataclass(frozen=True, slots=True)
class WalRecord:
    id: int  # ids start at 1, increase by 1, and are never reused (also across restarts)
    kind: int  # 0..255, the caller's tag
    payload: bytes


@dataclass(frozen=True, slots=True)
class Fetched:
    records: list[WalRecord]
    damaged: list[tuple[Slot, bytes]]  # frames that failed their check, with the bytes read
    missing: list[Slot]  # frames whose segment was deleted meanwhile (acked by every cursor)


def fetch(slots: Sequence[Slot]) -> Fetched:
    records: list[WalRecord] = []
    damaged: list[tuple[Slot, bytes]] = []
    missing: list[Slot] = []
    fd = -1
    open_path = None
    try:
        for slot in slots:
            if slot.path != open_path:
                if fd >= 0:
                    os.close(fd)
                    fd = -1
                open_path = slot.path
                try:
                    fd = os.open(slot.path, os.O_RDONLY)
                except FileNotFoundError:
                    fd = -1
            if fd < 0:
                missing.append(slot)
                continue
            head = os.pread(fd, HEADER_SIZE, slot.start)
            header = decode_header(head)
            payload = os.pread(fd, slot.size - HEADER_SIZE, slot.start + HEADER_SIZE)
            if (
                header is None
                or header.magic != MAGIC
                or header.record_id != slot.record_id
                or header.frame_size != slot.size
                or len(payload) != slot.size - HEADER_SIZE
                or not checksum_matches(header, payload)
            ):
                damaged.append((slot, head + payload))
                continue
            records.append(WalRecord(slot.record_id, header.kind, payload))
    finally:
        if fd >= 0:
            os.close(fd)
    return Fetched(records, damaged, missing)
