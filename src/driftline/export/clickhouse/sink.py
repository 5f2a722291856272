"""The ClickHouse sink: WAL cursor "clickhouse" → batch plan → INSERTs → acknowledgement.

A WalConsumer (export/consumer/loop.py) with one worker, so one batch is in flight and the
plan is a single range:

    next_batch: records from the cursor until max_rows / max_size / flush_interval
                (after a restart: exactly the range of the saved plan, if it was not acked)
    deliver:    plan = (first_id, last_id) saved durably       ← before the first INSERT attempt
                for each signal in the batch, its records into its tables:
                  INSERT … SETTINGS insert_deduplication_token = "wal-<first>-<last>:<table>"
                  retryable → back off and retry the same statement (retry_on_failure)
                  refused, too large (241), or the same error `permanent_after` times
                        → split (below)
                then the framework acknowledges (first_id, last_id)

Split. The failing tables (only those: the others hold every row already) get the two halves,
each with its own token "<token>/<first>-<last>", recursively. A half that still fails is split
again; a single record that is refused is set aside in the quarantine (kept on disk, counted,
replayable) and the rest of the batch lands — a refused record never blocks the ones behind
it. A single record that is too large alone is retried like a transient error, then (after
`permanent_after` attempts) set aside too. Every split is written into the plan before its
halves are inserted, so a replay after a crash takes the same splits (plan.py).

Once a batch was refused for repeating an error, its halves failing with that error again are
refused at the second attempt: the data is known to be the cause.

Rows in ClickHouse are a pure function of WAL bytes and plan ranges: replays are exactly-once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Protocol

from driftline import telemetry
from driftline.config.model import ClickHouseConfig, RetryConfig
from driftline.errors import BatchTooLargeError, PermanentError, RepeatedFailureError
from driftline.export.clickhouse.plan import BatchPlan, PlanFile, SplitKey
from driftline.export.consumer.loop import CursorReader, WalConsumer
from driftline.export.otlp.encode.count import count_wire_items
from driftline.export.records import Record, RecordSource
from driftline.signals import Signal
from driftline.storage.ingest_plan import statements_for

log = logging.getLogger(__name__)

CURSOR: Final = "clickhouse"
_READ_MAX_RECORDS: Final = 64
_REPLAY_READ_BYTES: Final = 64 << 20
_KNOWN_CAUSE_ATTEMPTS: Final = 2


class Inserter(Protocol):
    def insert(
        self,
        signal: Signal,
        payloads: Sequence[bytes],
        token: str,
        tables: Collection[str] | None = None,
        *,
        ids: Sequence[int] | None = None,
    ) -> None: ...


@dataclass(slots=True)
class SinkBatch:
    plan: BatchPlan
    records: list[Record]
    saved: bool = False  # the plan is on disk
    done: set[Signal] = field(default_factory=set)  # signals fully inserted (redelivery skips)

    @property
    def first_id(self) -> int:
        return self.plan.first_id

    @property
    def last_id(self) -> int:
        return self.plan.last_id

    @property
    def empty(self) -> bool:
        return False


def all_tables(signal: Signal) -> frozenset[str]:
    return frozenset(s.table for s in statements_for(signal))


def _failing(error: Exception, tried: frozenset[str]) -> frozenset[str]:
    """The tables that failed: errors from a multi-table write name them (TablesRefusedError,
    or `tables` on the retryable ones); else every table that was tried."""
    named = getattr(error, "tables", None)
    return tried & frozenset(named) if named else tried


class ClickHouseSink(WalConsumer[SinkBatch]):
    def __init__(
        self,
        source: RecordSource,
        inserter: Inserter,
        config: ClickHouseConfig,
        state_dir: str | Path,
        *,
        on_set_aside: Callable[[Record, str], None] | None = None,
    ) -> None:
        super().__init__("clickhouse-sink", source, CURSOR, workers=1)
        self._inserter = inserter
        self._config = config
        self._plans = PlanFile(Path(state_dir) / "clickhouse.plan.json")
        self._replay = self._plans.load()
        self._on_set_aside = on_set_aside or self._log_set_aside
        # Item counts of the batch being built and written: decoding a request to count its
        # items costs ~1 ms per 1000 spans with the GIL held, so each record is counted once.
        self._counted: dict[int, int] = {}
        self._set_aside_ids: set[int] = set()
        # flush_now(): a reader waits for what is pending (driftline.mlflow's read barrier).
        self._hurry = threading.Event()

    def shutdown(self, grace_s: float) -> None:
        """An INSERT in flight cannot be interrupted: it gets at least the usual 30 s."""
        self.stop(max(grace_s, 30.0))

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the batch in flight (if storage answers), then stop. Unacked records stay in
        the WAL and are replayed by the next start."""
        super().stop(timeout_s)

    def flush_now(self) -> None:
        """Write the batch being built without waiting for `flush_interval` (a reader waits
        for it). While a batch is open the sink polls the WAL every 10 ms, so this is seen
        within that."""
        self._hurry.set()

    # ---- batching ----------------------------------------------------------------------------

    def next_batch(self, reader: CursorReader) -> SinkBatch | None:
        replay, self._replay = self._replay, None
        records = self._replayed(reader, replay) if replay else self._fresh(reader)
        if not records:
            return None
        plan = replay or BatchPlan(records[0].id, records[-1].id)
        return SinkBatch(plan, records, saved=replay is not None)

    def _replayed(self, reader: CursorReader, replay: BatchPlan) -> list[Record]:
        """Exactly the saved range; records before it were acked, records after it wait."""
        batch: list[Record] = []
        pending = reader.pending
        while not self.stopping.is_set():
            while pending and pending[0].id <= replay.last_id:
                batch.append(pending.popleft())
            if (batch and batch[-1].id >= replay.last_id) or (
                pending and pending[0].id > replay.last_id
            ):
                break
            reader.read(_READ_MAX_RECORDS, _REPLAY_READ_BYTES, 0.2)
        if batch and (batch[0].id, batch[-1].id) != (replay.first_id, replay.last_id):
            replay.first_id, replay.last_id = batch[0].id, batch[-1].id  # part was acked
            replay.split.clear()
        return batch

    def _fresh(self, reader: CursorReader) -> list[Record]:
        cfg = self._config.batch
        max_bytes = cfg.max_size_mib << 20
        batch: list[Record] = []
        rows = size = 0
        deadline = time.monotonic() + cfg.flush_interval_s
        pending = reader.pending
        while not self.stopping.is_set():
            while pending and rows < cfg.max_rows and size < max_bytes:
                record = pending.popleft()
                batch.append(record)
                size += len(record.payload)
                rows += self._rows(record)
            if rows >= cfg.max_rows or size >= max_bytes:
                break
            remaining = deadline - time.monotonic()
            if batch and (remaining <= 0 or self._hurry.is_set()):
                self._hurry.clear()
                break
            if not batch:
                deadline = time.monotonic() + cfg.flush_interval_s
                remaining = cfg.flush_interval_s
            poll = 0.01 if batch else 0.5  # an open batch: notice flush_now() soon
            reader.read(_READ_MAX_RECORDS, max_bytes - size, min(max(remaining, 0.01), poll))
        return batch

    def _rows(self, record: Record) -> int:
        rows = self._counted.get(record.id)
        if rows is None:
            try:
                rows = count_wire_items(Signal(record.kind), record.payload)
            except Exception:
                rows = 1  # undecodable here; ClickHouse will decide, the split sets it aside
            self._counted[record.id] = rows
        return rows

    # ---- delivery ----------------------------------------------------------------------------

    def deliver(self, batch: SinkBatch) -> None:
        if not batch.saved:
            self._plans.save(batch.plan)
            batch.saved = True
        by_signal: dict[Signal, list[Record]] = {}
        for record in batch.records:
            by_signal.setdefault(Signal(record.kind), []).append(record)
        for signal, records in by_signal.items():
            if signal in batch.done:
                continue
            self._insert(signal, records, batch.plan.token, all_tables(signal), batch.plan)
            batch.done.add(signal)
            stored = [r for r in records if r.id not in self._set_aside_ids]
            telemetry.INSERT_ROWS.labels(signal.name.lower()).inc(sum(map(self._rows, stored)))
        for record in batch.records:
            self._counted.pop(record.id, None)
        self._set_aside_ids.clear()

    def _insert(
        self,
        signal: Signal,
        records: list[Record],
        token: str,
        tables: frozenset[str],
        plan: BatchPlan,
        retry: RetryConfig | None = None,
    ) -> None:
        """Insert one range (the batch's records of `signal`, or a sub-range of a split) into
        `tables`; split it where it fails."""
        key: SplitKey = (int(signal), records[0].id, records[-1].id)
        split_before = plan.split.get(key)
        if split_before is not None:  # a replay: this range was split, take the same split
            if tables - split_before:
                self._attempt(signal, records, token, tables - split_before, retry)
            self._split(signal, records, token, split_before, plan, retry)
            return
        try:
            self._attempt(signal, records, token, tables, retry)
        except (PermanentError, BatchTooLargeError) as e:
            if len(records) == 1:
                self._on_set_aside(records[0], str(e))
                self._set_aside_ids.add(records[0].id)
                return
            failing = _failing(e, tables)
            ranges = getattr(e, "ranges", ())  # the inserter's refused sub-ranges, if it split
            if ranges and list(ranges) != [(0, len(records))]:
                for lo, hi in ranges:  # the other sub-ranges landed under their own tokens
                    part = records[lo:hi]
                    sub = f"{token}@{part[0].id}-{part[-1].id}"
                    self._insert(signal, part, sub, failing, plan, retry)
                return
            log.warning(
                "clickhouse: %d %s records (ids %d..%d) failed in %s (%s); splitting",
                len(records), signal.name.lower(), key[1], key[2], ", ".join(sorted(failing)), e,
            )  # fmt: skip
            plan.split[key] = failing
            self._plans.save(plan)  # before any half is inserted
            if isinstance(e, RepeatedFailureError):
                cfg = retry or self._config.retry_on_failure
                limit = min(cfg.permanent_after or _KNOWN_CAUSE_ATTEMPTS, _KNOWN_CAUSE_ATTEMPTS)
                retry = replace(cfg, permanent_after=limit)
            self._split(signal, records, token, failing, plan, retry)

    def _split(
        self,
        signal: Signal,
        records: list[Record],
        token: str,
        tables: frozenset[str],
        plan: BatchPlan,
        retry: RetryConfig | None,
    ) -> None:
        mid = len(records) // 2
        for half in (records[:mid], records[mid:]):
            sub = f"{token}/{half[0].id}-{half[-1].id}"
            self._insert(signal, half, sub, tables, plan, retry)

    def _attempt(
        self,
        signal: Signal,
        records: list[Record],
        token: str,
        tables: frozenset[str],
        retry: RetryConfig | None,
    ) -> None:
        payloads = [r.payload for r in records]
        ids = [r.id for r in records]
        self.retry(
            lambda: self._inserter.insert(signal, payloads, token, tables, ids=ids),
            retry or self._config.retry_on_failure,
            what=f"insert of {len(records)} {signal.name.lower()} records",
            retry_too_large=len(records) == 1,  # a batch that can be split is not repeated
        )

    @staticmethod
    def _log_set_aside(record: Record, reason: str) -> None:
        log.error("clickhouse refused WAL record %d permanently; set aside: %s", record.id, reason)
