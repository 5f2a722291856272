"""Startup recovery: torn tails, corrupt frames, quarantine, ids that never go backwards."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftline.errors import WalCorruptionError
from driftline.wal import Wal
from driftline.wal.framing import encode_frame
from driftline.wal.ledger import Ledger, LedgerState
from driftline.wal.segment import segment_name
from tests.unit.wal.wal_helpers import (
    config,
    flip_bit,
    frame_bounds,
    payload_for,
    read_all,
    segments,
    set_file_length,
)

OpenWal = Callable[..., Wal]


def _fill(open_wal: OpenWal, n: int, size: int = 100, **cfg: object) -> None:
    wal = open_wal(config(**cfg))
    for i in range(1, n + 1):
        assert wal.append(1, payload_for(i, size)) == i
    wal.close()


def _expected(ids: list[int], size: int = 100) -> list[tuple[int, int, bytes]]:
    return [(i, 1, payload_for(i, size)) for i in ids]


def test_recovery_truncates_a_torn_tail_and_keeps_earlier_frames(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 5)
    (path,) = segments(wal_dir)
    length = path.stat().st_size
    with path.open("ab") as f:  # the write of record 6 never finished: it was never acked
        f.write(encode_frame(1, 6, payload_for(6, 100))[:30])
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 2, 3, 4, 5])
    assert path.stat().st_size == length
    stats = wal.stats()
    assert stats.torn_bytes_truncated == 30 and stats.corrupt_records == 0
    assert stats.missing_records == 0
    assert not (wal_dir / "quarantine").exists()
    assert wal.append(1, b"next") == 6  # 6 was never handed out: it may be issued now
    assert [r[0] for r in read_all(wal, "sink")] == [6]


def test_a_cut_through_an_acknowledged_record_is_damage_not_a_torn_write(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    """#16.1: record 5 was acknowledged (the ledger saw id 5 handed out); cutting it in half
    is damage to account for, not an unfinished write to truncate silently."""
    _fill(open_wal, 5)
    (path, start, _end, _) = frame_bounds(wal_dir)[-1]
    set_file_length(path, start + 30)
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 2, 3, 4])
    assert path.stat().st_size == start
    stats = wal.stats()
    assert stats.corrupt_records == 1 and stats.torn_bytes_truncated == 0
    assert len(list((wal_dir / "quarantine").iterdir())) == 1
    assert wal.append(1, b"next") == 6  # 5 is never reissued
    assert [r[0] for r in read_all(wal, "sink")] == [6]


def test_recovery_keeps_intact_records_after_a_corrupt_one(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 6)
    (path, start, end, _rid) = frame_bounds(wal_dir)[2]
    flip_bit(path, (start + 40) * 8)  # in the payload of record 3
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 2, 4, 5, 6])
    stats = wal.stats()
    assert stats.corrupt_records == 1 and stats.torn_bytes_truncated == 0
    (bad,) = (wal_dir / "quarantine").iterdir()
    assert bad.name.startswith(f"{path.name}.{start:012d}.")
    assert len(bad.read_bytes()) == end - start
    assert wal.append(1, b"next") == 7


def test_skipped_corrupt_records_count_as_acknowledged(open_wal: OpenWal, wal_dir: Path) -> None:
    _fill(open_wal, 6)
    (path, start, _, _) = frame_bounds(wal_dir)[2]
    flip_bit(path, (start + 40) * 8)
    wal = open_wal(config())
    wal.read("sink", 2, 1 << 20, 0)
    wal.ack("sink", 1, 2)
    assert wal.stats().cursors["sink"].acked_through == 3  # id 3 is damaged: implicitly acked
    wal.ack("sink", 4, 6)
    assert wal.stats().cursors["sink"].acked_through == 6


def test_a_damaged_length_field_does_not_swallow_later_records(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 6)
    (path, start, _, _) = frame_bounds(wal_dir)[1]
    flip_bit(path, (start + 4) * 8 + 20)  # payload_len of record 2 grows by 1 MiB
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 3, 4, 5, 6])
    assert wal.stats().corrupt_records == 1


def test_a_corrupt_last_record_is_set_aside_and_its_id_never_reused(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 4)
    (path, start, end, _) = frame_bounds(wal_dir)[-1]
    flip_bit(path, (end - 1) * 8)
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 2, 3])
    assert wal.stats().corrupt_records == 1
    assert path.stat().st_size == start  # truncated, after the bytes went to quarantine/
    assert len(list((wal_dir / "quarantine").iterdir())) == 1
    assert wal.append(1, b"next") == 5  # 4 may have been acknowledged and inserted already
    assert read_all(wal, "sink") == [(5, 1, b"next")]


def test_damage_at_the_end_of_an_older_segment_is_set_aside_not_truncated(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    size = 300 * 1024
    _fill(open_wal, 7, size=size)  # segments 1-3, 4-6, 7
    first, _second, _ = segments(wal_dir)
    length = first.stat().st_size
    set_file_length(first, length - 1000)  # torn bytes inside a non-last segment
    wal = open_wal(config())
    assert [r[0] for r in read_all(wal, "sink")] == [1, 2, 4, 5, 6, 7]
    stats = wal.stats()
    assert stats.corrupt_records == 1 and stats.torn_bytes_truncated == 0
    assert first.stat().st_size == length - 1000


def test_every_record_after_garbage_in_the_middle_is_kept(open_wal: OpenWal, wal_dir: Path) -> None:
    _fill(open_wal, 10)
    bounds = frame_bounds(wal_dir)
    path = bounds[0][0]
    data = bytearray(path.read_bytes())
    data[bounds[3][1] : bounds[6][2]] = os.urandom(bounds[6][2] - bounds[3][1])  # ids 4..7
    path.write_bytes(bytes(data))
    wal = open_wal(config())
    assert read_all(wal, "sink") == _expected([1, 2, 3, 8, 9, 10])
    assert wal.stats().corrupt_records == 4


def test_the_same_damage_is_quarantined_once_across_restarts(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 5)
    (path, start, _, _) = frame_bounds(wal_dir)[1]
    flip_bit(path, (start + 30) * 8)
    open_wal(config()).close()
    wal = open_wal(config())
    assert wal.stats().corrupt_records == 1
    assert len(list((wal_dir / "quarantine").iterdir())) == 1


def test_bytes_that_rot_after_startup_are_never_handed_out(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config())
    for i in range(1, 5):
        wal.append(1, payload_for(i, 100))
    (path, start, _, _) = frame_bounds(wal_dir)[1]
    flip_bit(path, (start + 50) * 8)
    assert read_all(wal, "sink") == _expected([1, 3, 4])
    assert wal.stats().corrupt_records == 1
    wal.ack("sink", 1, 1)
    assert wal.stats().cursors["sink"].acked_through == 2
    assert len(list((wal_dir / "quarantine").iterdir())) == 1


def test_ids_never_go_backwards_past_the_ledger(open_wal: OpenWal, wal_dir: Path) -> None:
    wal_dir.mkdir()
    Ledger(wal_dir).save(LedgerState(next_id=1000, acked_through={"sink": 999}))
    wal = open_wal(config())
    assert wal.append(1, b"x") == 1000


def test_ids_lost_with_a_torn_first_segment_start_the_log_where_the_ledger_left_it(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    _fill(open_wal, 3)
    (path,) = segments(wal_dir)
    set_file_length(path, 10)  # not even one header left
    wal = open_wal(config())
    assert read_all(wal, "sink") == []
    # the ledger saw next_id 4 when the WAL was closed
    assert wal.append(1, b"x") == 4


def test_overlapping_segment_names_cannot_be_interpreted(open_wal: OpenWal, wal_dir: Path) -> None:
    _fill(open_wal, 5)
    (path,) = segments(wal_dir)
    (wal_dir / segment_name(3)).write_bytes(path.read_bytes())
    with pytest.raises(WalCorruptionError, match="inside the next segment's ids"):
        Wal.open(config(), wal_dir, ["sink"])


def test_an_unreadable_ledger_is_set_aside_and_rebuilt_from_the_segments(
    open_wal: OpenWal, wal_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """#16.1: one flipped bit in ledger.json used to stop every start (a restart loop)."""
    _fill(open_wal, 4)
    wal = open_wal(config())
    wal.read("sink", 10, 1 << 20, 0)
    wal.ack("sink", 1, 2)
    wal.close()
    data = (wal_dir / "ledger.json").read_bytes()
    flip_bit(wal_dir / "ledger.json", data.index(b'"acked_through": 2') * 8 + 8 * 17)
    wal = open_wal(config())
    stats = wal.stats()
    assert stats.ledger_rebuilt
    # the checkpoint is not guessed from the damaged file: the cursor replays from the oldest
    assert stats.cursors["sink"].acked_through == 0
    assert [r[0] for r in read_all(wal, "sink")] == [1, 2, 3, 4]
    assert wal.append(1, b"x") == 5  # ids still never go backwards (the segments show 4)
    (kept,) = (wal_dir / "quarantine").iterdir()
    assert kept.name.startswith("ledger.json.") and kept.read_bytes() != data
    assert "rebuilt from the segments" in caplog.text
    assert Ledger(wal_dir).load() is not None  # a fresh, readable ledger was written


def test_a_cursor_dropped_from_the_configuration_no_longer_holds_segments(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config(), cursors=("a", "gone"))
    for i in range(1, 4):
        wal.append(1, payload_for(i))
    wal.close()
    wal = open_wal(config(), cursors=("a",))
    assert set(wal.stats().cursors) == {"a"}
    assert Ledger(wal_dir).load() == LedgerState(4, {"a": 0})


@pytest.mark.parametrize("records_in_last_segment", [1, 3])
def test_records_appended_after_a_corrupt_tail_survive_the_next_restart(
    open_wal: OpenWal, wal_dir: Path, records_in_last_segment: int
) -> None:
    size = 300 * 1024
    n = 3 + records_in_last_segment  # segment 1-3, then the last one
    _fill(open_wal, n, size=size)
    (path, _, end, _) = frame_bounds(wal_dir)[-1]
    flip_bit(path, (end - 1) * 8)
    wal = open_wal(config())
    assert wal.stats().corrupt_records == 1
    assert wal.append(1, b"after-1") == n + 1
    wal.close()
    wal = open_wal(config())
    assert wal.append(1, b"after-2") == n + 2
    got = read_all(wal, "sink")
    assert [r[0] for r in got] == [*range(1, n), n + 1, n + 2]
    assert got[-2:] == [(n + 1, 1, b"after-1"), (n + 2, 1, b"after-2")]
    assert wal.stats().corrupt_records == 0  # the corrupt tail was cut off (and set aside)


def test_a_torn_tail_without_a_ledger_reissues_the_unacknowledged_id(wal_dir: Path) -> None:
    wal = Wal.open(config(), wal_dir, ["sink"])
    for i in range(1, 4):
        wal.append(1, payload_for(i))
    wal.close()
    (wal_dir / "ledger.json").unlink()  # as if the crash came before the ledger was written
    (path, start, _, _) = frame_bounds(wal_dir)[-1]
    set_file_length(path, start + 5)
    with Wal.open(config(), wal_dir, ["sink"]) as wal:
        assert wal.append(1, b"again") == 3
        assert read_all(wal, "sink") == [*_expected([1, 2], 64), (3, 1, b"again")]


# ---- #16.1: damage that used to lose acknowledged records silently ---------------------------


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_a_segment_truncated_to_zero_bytes_is_reported_not_silently_lost(
    open_wal: OpenWal, wal_dir: Path, caplog: pytest.LogCaptureFixture, which: str
) -> None:
    size = 300 * 1024
    _fill(open_wal, 9, size=size)  # segments 1-3, 4-6, 7-9
    files = segments(wal_dir)
    victim = files[0] if which == "oldest" else files[-1]
    victim.write_bytes(b"")
    wal = open_wal(config())
    gone = [1, 2, 3] if which == "oldest" else [7, 8, 9]
    assert [r[0] for r in read_all(wal, "sink")] == [i for i in range(1, 10) if i not in gone]
    stats = wal.stats()
    assert stats.missing_records == 3 and stats.corrupt_records == 0
    assert f"{gone[0]}..{gone[-1]}" in caplog.text and "gone from the segments" in caplog.text
    assert wal.append(1, b"x") == 10  # and are never reissued


def test_bytes_copied_from_later_in_a_segment_do_not_make_recovery_skip_intact_frames(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config())
    for i in range(1, 601):  # big records first, then small ones: copies of later ids fit
        wal.append(1, payload_for(i, 1000 if i <= 50 else 10))
    wal.close()
    bounds = frame_bounds(wal_dir)
    path = bounds[0][0]
    data = bytearray(path.read_bytes())
    src = data[bounds[500][1] : bounds[510][2]]  # frames 501..511
    dest = bounds[20][1]  # over frames 21..
    data[dest : dest + len(src)] = src
    path.write_bytes(bytes(data))
    wal = open_wal(config())
    got = [r[0] for r in read_all(wal, "sink")]
    overwritten = {rid for _, start, end, rid in bounds if start < dest + len(src) and end > dest}
    assert got == [i for i in range(1, 601) if i not in overwritten]
    assert wal.stats().corrupt_records == len(overwritten)


def test_the_newest_segment_cut_at_a_frame_boundary_is_accounted(
    open_wal: OpenWal, wal_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(open_wal, 10)
    (path, start, _, _) = frame_bounds(wal_dir)[6]
    set_file_length(path, start)  # records 7..10, acknowledged, cut off cleanly
    wal = open_wal(config())
    assert [r[0] for r in read_all(wal, "sink")] == [1, 2, 3, 4, 5, 6]
    stats = wal.stats()
    assert stats.missing_records == 4 and stats.torn_bytes_truncated == 0
    assert "7..10" in caplog.text
    assert wal.append(1, b"x") == 11


def test_the_ledger_keeps_up_with_the_head_while_nothing_is_acknowledged(
    open_wal: OpenWal, wal_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a consumer's acks the ledger was only written at open/close: a crash, then the
    newest records cut off, would have looked like nothing was ever there."""
    from driftline.wal import log as wal_log

    monkeypatch.setattr(wal_log, "HEAD_REFRESH_S", 0.0)
    wal = open_wal(config())
    for i in range(1, 6):
        wal.append(1, payload_for(i))
    deadline = time.monotonic() + 10  # the writer refreshes it right after resolving futures
    while Ledger(wal_dir).load() != LedgerState(6, {"sink": 0}) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert Ledger(wal_dir).load() == LedgerState(6, {"sink": 0})
