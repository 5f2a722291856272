"""The ledger: each cursor's persisted checkpoint and the writer's next id, in `ledger.json`.

    {"format": 1, "next_id": 1043, "cursors": {"clickhouse": {"acked_through": 1000}},
     "crc32c": 123456789}

`crc32c` covers the canonical JSON of everything else (sorted keys, no spaces). The file is
only ever replaced whole (write `ledger.json.tmp`, fsync, rename, fsync the directory), so a
crash leaves the old or the new version, never a mix. A ledger that does not parse or whose
checksum does not match is not guessed around: opening the WAL fails with WalCorruptionError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import google_crc32c

from driftline.errors import WalCorruptionError
from driftline.wal.fsio import replace_atomically

LEDGER_FILE: Final = "ledger.json"
FORMAT: Final = 1


@dataclass(frozen=True, slots=True)
class LedgerState:
    next_id: int = 1  # ids below this may have been handed out; never assign them again
    acked_through: Mapping[str, int] = field(default_factory=dict)


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def encode_ledger(state: LedgerState) -> bytes:
    body: dict[str, Any] = {
        "format": FORMAT,
        "next_id": state.next_id,
        "cursors": {name: {"acked_through": n} for name, n in sorted(state.acked_through.items())},
    }
    body["crc32c"] = google_crc32c.value(_canonical(body))
    return json.dumps(body, sort_keys=True, indent=1).encode() + b"\n"


def decode_ledger(data: bytes, where: str = LEDGER_FILE) -> LedgerState:
    try:
        body = json.loads(data)
        crc = body.pop("crc32c")
        if google_crc32c.value(_canonical(body)) != crc:
            raise ValueError("checksum mismatch")
        if body["format"] != FORMAT:
            raise ValueError(f"unknown format {body['format']!r}")
        next_id = body["next_id"]
        acked = {str(name): c["acked_through"] for name, c in body["cursors"].items()}
        if not isinstance(next_id, int) or next_id < 1:
            raise ValueError(f"bad next_id {next_id!r}")
        for name, value in acked.items():
            if not isinstance(value, int) or not 0 <= value < next_id:
                raise ValueError(f"bad acked_through {value!r} for cursor {name!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise WalCorruptionError(
            f"WAL ledger {where} cannot be read ({e}); refusing to guess cursor checkpoints. "
            "Restore it, or move the WAL directory aside to start empty."
        ) from e
    return LedgerState(next_id=next_id, acked_through=acked)


class Ledger:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LEDGER_FILE

    def load(self) -> LedgerState | None:
        """The persisted state, or None for a WAL that never wrote one."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return decode_ledger(data, str(self.path))

    def save(self, state: LedgerState) -> None:
        replace_atomically(self.path, encode_ledger(state))

    def remove_leftovers(self) -> None:
        """Drop a temporary file a crash left half-written (the real ledger is untouched)."""
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)
