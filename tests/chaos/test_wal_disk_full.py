"""Disk full at the WAL (#16.2), on a real 4 MiB tmpfs: appends are refused retryably (never a
crash, never "internal"), health names the reason, and once space returns the writer resumes
by itself. Nothing acknowledged is lost, ids stay contiguous, a restart finds no damage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftline.errors import WalFullError
from driftline.wal import Wal
from tests.chaos.small_disk import small_disk
from tests.unit.wal.wal_helpers import config, payload_for, read_all


def _wait_until(predicate: object, timeout_s: float = 30.0) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.mark.parametrize("sync", ["always", "never"])
def test_a_full_disk_refuses_appends_retryably_and_resumes_when_space_returns(
    tmp_path: Path, sync: str
) -> None:
    with small_disk(tmp_path, 4) as disk:
        wal_dir = disk.root / "wal"
        cfg = config(sync=sync, segment_size_mib=1, max_size_mib=64)
        wal = Wal.open(cfg, wal_dir, ["sink"])
        acked: dict[int, bytes] = {}
        for i in range(1, 6):
            acked[wal.append(1, payload_for(i, 100_000))] = payload_for(i, 100_000)
        disk.fill(leave=150_000)

        refused = 0
        for i in range(6, 40):
            payload = payload_for(i, 100_000)
            try:
                record_id = wal.submit(1, payload).result(timeout=30)
            except WalFullError as exc:
                refused += 1
                assert exc.delay_s == cfg.retry_after_s  # RetryInfo / Retry-After
                continue
            acked[record_id] = payload
        assert refused > 0, "the disk never filled up"
        reason = wal.health()
        assert reason is not None and "full" in reason
        with pytest.raises(WalFullError):  # refused at once, without touching the disk
            wal.submit(1, b"while full")

        disk.free()
        assert _wait_until(lambda: wal.health() is None), "the writer did not resume"
        after = wal.append(1, b"after the disk emptied")
        acked[after] = b"after the disk emptied"
        assert sorted(acked) == list(range(1, len(acked) + 1))  # no id skipped or reused
        assert {rid: p for rid, _, p in read_all(wal, "sink")} == acked
        wal.close()

        with Wal.open(cfg, wal_dir, ["sink"]) as reopened:
            stats = reopened.stats()
            assert stats.corrupt_records == stats.missing_records == 0
            assert stats.torn_bytes_truncated == 0
            assert {rid: p for rid, _, p in read_all(reopened, "sink")} == acked


def test_a_full_disk_while_rotating_to_a_new_segment_leaves_no_half_segment(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path, 4) as disk:
        wal_dir = disk.root / "wal"
        cfg = config(sync="always", segment_size_mib=1, max_size_mib=64)
        wal = Wal.open(cfg, wal_dir, ["sink"])
        acked = {}
        for i in range(1, 4):  # 3 x 300 KB: the next one needs a new segment
            acked[wal.append(1, payload_for(i, 300_000))] = payload_for(i, 300_000)
        disk.fill(leave=100_000)
        with pytest.raises(WalFullError):
            wal.submit(1, payload_for(4, 300_000)).result(timeout=30)
        assert len(list(wal_dir.glob("*.wal"))) == 1  # the new segment was removed again
        disk.free()
        assert _wait_until(lambda: wal.health() is None)
        acked[wal.append(1, b"x")] = b"x"
        assert sorted(acked) == [1, 2, 3, 4]
        assert {rid: p for rid, _, p in read_all(wal, "sink")} == acked
        wal.close()
