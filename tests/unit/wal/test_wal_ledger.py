from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.errors import WalCorruptionError
from driftline.wal.ledger import Ledger, LedgerState, decode_ledger, encode_ledger


def test_ledger_round_trips_next_id_and_checkpoints(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    assert ledger.load() is None
    ledger.save(LedgerState(next_id=42, acked_through={"clickhouse": 40, "forward:tempo": 7}))
    loaded = ledger.load()
    assert loaded == LedgerState(42, {"clickhouse": 40, "forward:tempo": 7})


def test_save_replaces_the_file_through_a_temporary_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path)
    ledger.save(LedgerState(5, {"a": 1}))
    ledger.save(LedgerState(9, {"a": 8}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json"]
    assert ledger.load() == LedgerState(9, {"a": 8})


def test_a_half_written_temporary_from_a_crash_is_ignored_and_removed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.save(LedgerState(5, {"a": 4}))
    (tmp_path / "ledger.json.tmp").write_bytes(b'{"format": 1, "next_')
    assert ledger.load() == LedgerState(5, {"a": 4})
    ledger.remove_leftovers()
    assert not (tmp_path / "ledger.json.tmp").exists()


def test_a_ledger_with_a_changed_value_fails_its_checksum() -> None:
    body = json.loads(encode_ledger(LedgerState(10, {"a": 9})))
    body["cursors"]["a"]["acked_through"] = 3
    with pytest.raises(WalCorruptionError, match="checksum mismatch"):
        decode_ledger(json.dumps(body).encode())


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"crc32c": 1}'])
def test_an_unreadable_ledger_is_an_error_not_a_guess(data: bytes) -> None:
    with pytest.raises(WalCorruptionError, match="refusing to guess"):
        decode_ledger(data)


def test_a_checkpoint_at_or_past_next_id_is_refused() -> None:
    with pytest.raises(WalCorruptionError, match="bad acked_through"):
        decode_ledger(encode_ledger(LedgerState(5, {"a": 5})))
