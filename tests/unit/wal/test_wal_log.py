"""The Wal facade: appending, reading through cursors, acknowledging, limits, lifecycle."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftline import telemetry
from driftline.errors import DataDirInUseError, TooLargeError, WalFullError
from driftline.wal import Wal, WalRecord
from driftline.wal.segment import segment_name
from tests.unit.wal.wal_helpers import config, payload_for, read_all, segments

OpenWal = Callable[..., Wal]
KIB = 1024


def test_append_returns_ids_from_one_and_read_hands_them_back(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    ids = [wal.append(i % 3 + 1, payload_for(i)) for i in range(1, 6)]
    assert ids == [1, 2, 3, 4, 5]
    records = wal.read("sink", 100, 1 << 20, 1.0)
    assert records == [WalRecord(i, i % 3 + 1, payload_for(i)) for i in ids]
    assert wal.stats().head_id == 5


def test_submit_returns_a_future_resolved_with_the_id(open_wal: OpenWal) -> None:
    wal = open_wal(config(sync="always"))
    futures = [wal.submit(1, b"x") for _ in range(10)]
    assert [f.result(timeout=5) for f in futures] == list(range(1, 11))


def test_concurrent_submits_get_distinct_contiguous_ids(open_wal: OpenWal) -> None:
    wal = open_wal(config(sync="always"))
    results: list[int] = []
    lock = threading.Lock()

    def produce(t: int) -> None:
        for i in range(50):
            rid = wal.append(1, f"{t}-{i}".encode())
            with lock:
                results.append(rid)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 401))
    by_id = {r.id: r.payload for r in wal.read("sink", 1000, 1 << 30, 1.0)}
    assert len(by_id) == 400 and len(set(by_id.values())) == 400


def test_group_commit_syncs_many_records_at_once(open_wal: OpenWal) -> None:
    wal = open_wal(config(sync="always"))
    commits_before = _histogram_count(telemetry.WAL_SYNC_SECONDS)
    futures = [wal.submit(1, b"y" * 100) for _ in range(500)]
    for f in futures:
        f.result(timeout=10)
    commits = _histogram_count(telemetry.WAL_SYNC_SECONDS) - commits_before
    assert 1 <= commits < 500


def _histogram_count(histogram: object) -> float:
    for metric in histogram.collect():  # type: ignore[attr-defined]
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return float(sample.value)
    raise AssertionError("no _count sample")


@pytest.mark.parametrize("sync", ["always", "interval", "never"])
def test_every_sync_policy_makes_records_readable_and_reopenable(
    open_wal: OpenWal, wal_dir: Path, sync: str
) -> None:
    wal = open_wal(config(sync=sync, sync_interval_s=0.01))
    for i in range(1, 21):
        assert wal.append(1, payload_for(i)) == i
    time.sleep(0.03)
    assert [r[0] for r in read_all(wal, "sink")] == list(range(1, 21))
    wal.close()
    again = open_wal(config(sync=sync))
    assert read_all(again, "sink") == [(i, 1, payload_for(i)) for i in range(1, 21)]


def test_read_returns_empty_after_the_timeout_when_nothing_is_new(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    started = time.monotonic()
    assert wal.read("sink", 10, 1 << 20, 0.2) == []
    assert 0.15 <= time.monotonic() - started < 2.0


def test_a_blocked_read_wakes_up_for_a_new_record(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    got: list[list[WalRecord]] = []
    reader = threading.Thread(target=lambda: got.append(wal.read("sink", 10, 1 << 20, 10.0)))
    reader.start()
    time.sleep(0.05)
    started = time.monotonic()
    wal.append(2, b"late")
    reader.join(5)
    assert got == [[WalRecord(1, 2, b"late")]] and time.monotonic() - started < 2.0


def test_read_respects_max_records_and_max_bytes_but_returns_at_least_one(
    open_wal: OpenWal,
) -> None:
    wal = open_wal(config())
    for _i in range(1, 11):
        wal.append(1, b"z" * 100)
    assert [r.id for r in wal.read("sink", 3, 1 << 20, 0)] == [1, 2, 3]
    assert [r.id for r in wal.read("sink", 100, 250, 0)] == [4, 5]
    assert [r.id for r in wal.read("sink", 100, 10, 0)] == [6]  # alone over max_bytes
    assert [r.id for r in wal.read("sink", 100, 1 << 20, 0)] == [7, 8, 9, 10]


def test_cursors_read_independently(open_wal: OpenWal) -> None:
    wal = open_wal(config(), cursors=("clickhouse", "forward"))
    for i in range(1, 4):
        wal.append(1, payload_for(i))
    assert [r.id for r in wal.read("clickhouse", 2, 1 << 20, 0)] == [1, 2]
    assert [r.id for r in wal.read("forward", 10, 1 << 20, 0)] == [1, 2, 3]
    assert [r.id for r in wal.read("clickhouse", 10, 1 << 20, 0)] == [3]


def test_rewind_hands_out_everything_after_the_checkpoint_again(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    for i in range(1, 6):
        wal.append(1, payload_for(i))
    assert len(wal.read("sink", 10, 1 << 20, 0)) == 5
    wal.ack("sink", 1, 2)
    wal.ack("sink", 4, 4)  # out of order: the checkpoint stays at 2
    wal.rewind("sink")
    assert [r.id for r in wal.read("sink", 10, 1 << 20, 0)] == [3, 4, 5]


def test_acks_out_of_order_persist_only_the_contiguous_prefix(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config())
    for i in range(1, 11):
        wal.append(1, payload_for(i))
    wal.read("sink", 10, 1 << 20, 0)
    wal.ack("sink", 6, 10)
    wal.ack("sink", 1, 3)
    assert wal.stats().cursors["sink"].acked_through == 3
    wal.close()
    again = open_wal(config())
    assert again.stats().cursors["sink"].acked_through == 3
    assert [r[0] for r in read_all(again, "sink")] == list(range(4, 11))


def test_acking_ids_that_are_not_durable_yet_is_refused(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    wal.append(1, b"a")
    with pytest.raises(ValueError, match=r"within 1\.\.1"):
        wal.ack("sink", 1, 2)
    with pytest.raises(ValueError):
        wal.ack("sink", 0, 1)
    with pytest.raises(ValueError):
        wal.ack("sink", 1, 0)


def test_an_unknown_cursor_is_a_key_error(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    with pytest.raises(KeyError, match="unknown WAL cursor 'nope'"):
        wal.read("nope", 1, 1, 0)


def test_segments_rotate_at_the_configured_size(open_wal: OpenWal, wal_dir: Path) -> None:
    wal = open_wal(config(segment_size_mib=1))
    for _i in range(1, 21):
        wal.append(1, b"p" * (200 * KIB))  # 5 frames per 1 MiB segment
    names = [p.name for p in segments(wal_dir)]
    assert names == [segment_name(n) for n in (1, 6, 11, 16)]
    assert all(p.stat().st_size <= 1 << 20 for p in segments(wal_dir))
    assert wal.stats().segments == 4


def test_a_group_that_fills_a_segment_never_gets_it_deleted_by_the_rotation(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config(segment_size_mib=1))
    futures = [wal.submit(1, payload_for(i, 200 * KIB)) for i in range(1, 7)]  # 5 fit in one
    assert [f.result(5) for f in futures] == [1, 2, 3, 4, 5, 6]
    assert [p.name for p in segments(wal_dir)] == [segment_name(1), segment_name(6)]
    assert [r[0] for r in read_all(wal, "sink")] == [1, 2, 3, 4, 5, 6]


def test_an_oversized_record_gets_a_segment_of_its_own(open_wal: OpenWal, wal_dir: Path) -> None:
    wal = open_wal(config(segment_size_mib=1, max_size_mib=16))
    wal.append(1, b"a" * 100)
    wal.append(1, b"b" * (3 << 20))
    wal.append(1, b"c" * 100)
    assert [p.name for p in segments(wal_dir)] == [segment_name(n) for n in (1, 2, 3)]
    assert [len(r[2]) for r in read_all(wal, "sink")] == [100, 3 << 20, 100]


def test_a_segment_is_deleted_only_when_every_cursor_has_passed_it(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config(segment_size_mib=1), cursors=("a", "b"))
    for _i in range(1, 13):
        wal.append(1, b"p" * (300 * KIB))  # 3 per segment: 1-3, 4-6, 7-9, 10-12
    assert len(segments(wal_dir)) == 4
    wal.ack("a", 1, 12)
    assert len(segments(wal_dir)) == 4  # "b" has passed nothing
    wal.ack("b", 1, 5)
    assert [p.name for p in segments(wal_dir)] == [segment_name(n) for n in (4, 7, 10)]
    wal.ack("b", 6, 12)
    # the newest segment stays for the writer even when everything is acknowledged
    assert [p.name for p in segments(wal_dir)] == [segment_name(10)]
    assert wal.stats().oldest_id == 10


def test_wal_full_is_raised_at_the_cap_and_capacity_returns_after_acks(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config(segment_size_mib=1, max_size_mib=2, retry_after_s=7.0))
    payload = b"f" * (300 * KIB)
    accepted = []
    with pytest.raises(WalFullError) as excinfo:
        for _ in range(100):
            accepted.append(wal.append(1, payload))
    assert excinfo.value.delay_s == 7.0
    assert len(accepted) == 6  # 2 MiB / (300 KiB + header)
    assert wal.stats().total_bytes <= 2 << 20
    with pytest.raises(WalFullError):  # still full: nothing was acknowledged
        wal.submit(1, payload)
    wal.ack("sink", 1, accepted[-1])
    assert wal.append(1, payload) == accepted[-1] + 1  # the first segment is gone


def test_queued_bytes_count_towards_the_cap(open_wal: OpenWal) -> None:
    wal = open_wal(config(segment_size_mib=1, max_size_mib=2))
    payload = b"q" * (600 * KIB)
    futures = [wal.submit(1, payload), wal.submit(1, payload), wal.submit(1, payload)]
    with pytest.raises(WalFullError):
        wal.submit(1, payload)
    assert [f.result(5) for f in futures] == [1, 2, 3]


def test_a_record_that_could_never_fit_is_too_large(open_wal: OpenWal) -> None:
    wal = open_wal(config(segment_size_mib=1, max_size_mib=2))
    with pytest.raises(TooLargeError):
        wal.submit(1, b"x" * (2 << 20))


def test_kind_must_fit_in_a_byte(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    with pytest.raises(ValueError, match="kind"):
        wal.submit(256, b"")


def test_reopen_keeps_ids_increasing(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    assert [wal.append(1, b"a") for _ in range(3)] == [1, 2, 3]
    wal.close()
    wal = open_wal(config())
    assert wal.append(1, b"b") == 4
    wal.close()
    wal = open_wal(config())
    assert wal.stats().head_id == 4 and wal.append(1, b"c") == 5


def test_ids_keep_increasing_even_when_every_segment_was_deleted(
    open_wal: OpenWal, wal_dir: Path
) -> None:
    wal = open_wal(config(segment_size_mib=1))
    for _ in range(8):
        wal.append(1, b"p" * (300 * KIB))
    wal.ack("sink", 1, 8)
    wal.close()
    for path in segments(wal_dir):  # even the newest, which the WAL itself would keep
        path.unlink()
    wal = open_wal(config(segment_size_mib=1))
    assert wal.append(1, b"after") == 9
    assert read_all(wal, "sink") == [(9, 1, b"after")]


def test_reopen_resumes_each_cursor_right_after_its_checkpoint(open_wal: OpenWal) -> None:
    wal = open_wal(config(), cursors=("a", "b"))
    for i in range(1, 11):
        wal.append(1, payload_for(i))
    wal.read("a", 100, 1 << 20, 0)
    wal.ack("a", 1, 7)
    wal.read("b", 100, 1 << 20, 0)  # read but never acknowledged
    wal.close()
    wal = open_wal(config(), cursors=("a", "b"))
    assert [r[0] for r in read_all(wal, "a")] == [8, 9, 10]
    assert [r[0] for r in read_all(wal, "b")] == list(range(1, 11))


def test_a_new_cursor_starts_at_the_oldest_record_on_disk(open_wal: OpenWal, wal_dir: Path) -> None:
    wal = open_wal(config(segment_size_mib=1), cursors=("a",))
    for _ in range(9):
        wal.append(1, b"p" * (300 * KIB))  # 1-3, 4-6, 7-9
    wal.ack("a", 1, 4)
    wal.close()
    wal = open_wal(config(segment_size_mib=1), cursors=("a", "late"))
    assert [r[0] for r in read_all(wal, "late")] == [4, 5, 6, 7, 8, 9]
    assert wal.stats().cursors["late"].acked_through == 3


def test_a_second_open_of_the_same_directory_is_refused(open_wal: OpenWal, wal_dir: Path) -> None:
    open_wal(config())
    with pytest.raises(DataDirInUseError, match="locked by another open WAL"):
        Wal.open(config(), wal_dir, ["sink"])


def test_another_process_cannot_open_a_locked_directory(open_wal: OpenWal, wal_dir: Path) -> None:
    open_wal(config())
    code = (
        "import sys\n"
        "from driftline.errors import DataDirInUseError\n"
        "from driftline.wal import Wal\n"
        "from tests.unit.wal.wal_helpers import config\n"
        f"try: Wal.open(config(), {str(wal_dir)!r}, ['sink'])\n"
        "except DataDirInUseError as e: print(e); sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "locked" in done.stdout


def test_close_releases_the_lock_and_is_idempotent(open_wal: OpenWal, wal_dir: Path) -> None:
    wal = open_wal(config())
    wal.close()
    wal.close()
    again = Wal.open(config(), wal_dir, ["sink"])
    again.close()


def test_close_writes_what_was_queued(open_wal: OpenWal) -> None:
    wal = open_wal(config(sync="interval", sync_interval_s=60))
    futures = [wal.submit(1, payload_for(i)) for i in range(1, 101)]
    wal.close()
    assert all(f.done() for f in futures)
    again = open_wal(config())
    assert len(read_all(again, "sink")) == 100


def test_calls_after_close_raise(open_wal: OpenWal) -> None:
    wal = open_wal(config())
    wal.append(1, b"a")
    wal.close()
    with pytest.raises(RuntimeError, match="closed"):
        wal.submit(1, b"b")
    with pytest.raises(RuntimeError, match="closed"):
        wal.read("sink", 1, 1, 0)
    with pytest.raises(RuntimeError, match="closed"):
        wal.ack("sink", 1, 1)


def test_stats_report_lag_per_cursor(open_wal: OpenWal) -> None:
    wal = open_wal(config(), cursors=("a", "b"))
    for _ in range(10):
        wal.append(1, b"s" * 1000)
    wal.read("a", 100, 1 << 20, 0)
    wal.ack("a", 1, 6)
    stats = wal.stats()
    assert stats.head_id == 10 and stats.segments == 1
    assert stats.total_bytes == 10 * (1000 + 18)
    assert stats.cursors["a"].lag_records == 4 and stats.cursors["a"].lag_bytes == 4 * 1018
    assert stats.cursors["b"].lag_records == 10 and stats.cursors["b"].lag_bytes == 10 * 1018
    assert stats.cursors["a"].next_read_id == 11 and stats.corrupt_records == 0


def test_cursor_names_must_be_distinct(wal_dir: Path) -> None:
    with pytest.raises(ValueError, match="distinct"):
        Wal.open(config(), wal_dir, ["a", "a"])


def test_an_io_error_stops_the_writer_and_fails_the_waiting_appends(
    open_wal: OpenWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = open_wal(config(sync="always"))
    assert wal.append(1, b"fine") == 1

    def broken_fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("driftline.wal.writer.os.fdatasync", broken_fdatasync)
    future = wal.submit(1, b"doomed")
    with pytest.raises(OSError, match="Input/output error"):
        future.result(5)
    with pytest.raises(RuntimeError, match="writer failed"):
        wal.submit(1, b"later")
    assert [r.id for r in wal.read("sink", 10, 1 << 20, 0)] == [1]  # never durable: not read
    monkeypatch.undo()
    wal.close()
    again = open_wal(config())
    # the bytes did reach the file; recovery keeps them (the client was told "failed" and
    # will retry: at least once, never lost), and the next id is fresh
    assert [r[0] for r in read_all(again, "sink")] == [1, 2]
    assert again.append(1, b"next") == 3
