"""The ClickHouse sink: WAL cursor "clickhouse" → batch plan → INSERTs → acknowledgement.

    loop:
      batch  = records from the cursor until max_rows / max_size / flush_interval
               (after a restart: exactly the range of the saved plan, if it was not acked)
      plan   = (first_id, last_id) saved durably          ← before the first INSERT attempt
      for each signal in the batch, for each of its tables:
          INSERT … SETTINGS insert_deduplication_token = "wal-<first>-<last>:<table>"
          retryable error → back off (jittered exponential) and retry the same statement
          permanent error → bisect that table's records; set aside only the ones refused
      ack(first_id, last_id)                               ← segments can now be deleted

One batch is in flight at a time, so the plan is a single range. Rows in ClickHouse are a pure
function of WAL bytes and plan ranges: replays are exactly-once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Protocol

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential_jitter,
)

from driftline import telemetry
from driftline.config.model import ClickHouseConfig
from driftline.errors import PermanentError, RetryableError
from driftline.export.clickhouse.plan import BatchPlan, PlanFile
from driftline.export.otlp.encode.count import count_wire_items
from driftline.export.records import Record, RecordSource
from driftline.signals import Signal

log = logging.getLogger(__name__)

CURSOR = "clickhouse"
_READ_MAX_RECORDS = 64


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


def _refusing(error: PermanentError) -> frozenset[str] | None:
    """The tables that refused (TablesRefusedError), or None: all of the signal's tables."""
    tables = getattr(error, "tables", None)
    return frozenset(tables) if tables is not None else None


class _Stopping(Exception):
    """Raised out of a retry sleep when the sink is asked to stop."""


class ClickHouseSink:
    def __init__(
        self,
        source: RecordSource,
        inserter: Inserter,
        config: ClickHouseConfig,
        state_dir: str | Path,
        *,
        on_set_aside: Callable[[Record, str], None] | None = None,
    ) -> None:
        self._source = source
        self._inserter = inserter
        self._config = config
        self._plans = PlanFile(Path(state_dir) / "clickhouse.plan.json")
        self._pending: deque[Record] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_set_aside = on_set_aside or self._log_set_aside
        self.batches_done = 0
        self.last_error: str = ""
        # Item counts of the batch being built and written: decoding a request to count its
        # items costs ~1 ms per 1000 spans with the GIL held, so each record is counted once.
        self._counted: dict[int, int] = {}
        # flush_now(): a reader waits for what is pending (driftline.mlflow's read barrier).
        self._hurry = threading.Event()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clickhouse-sink", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the batch in flight (if storage answers), then stop. Unacked records stay in
        the WAL and are replayed by the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def shutdown(self, grace_s: float) -> None:
        """The lifecycle's stop: an INSERT in flight cannot be interrupted, so it gets at least
        the usual 30 s to finish."""
        self.stop(max(grace_s, 30.0))

    def flush_now(self) -> None:
        """Write the batch being built without waiting for `flush_interval` (a reader waits
        for it). While a batch is open the sink polls the WAL every 10 ms, so this is seen
        within that."""
        self._hurry.set()

    # ---- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        replay = self._plans.load()
        while not self._stop.is_set():
            try:
                batch = self._next_batch(replay)
                replay = None
                if batch:
                    self._write(batch)
            except _Stopping:
                return
            except Exception:  # never let the sink thread die: data is safe in the WAL
                log.exception("clickhouse sink: unexpected error; retrying in 1 s")
                self._stop.wait(1.0)

    def _read(self, timeout_s: float, max_bytes: int) -> None:
        records = self._source.read(CURSOR, _READ_MAX_RECORDS, max_bytes, timeout_s)
        self._pending.extend(records)

    def _next_batch(self, replay: BatchPlan | None) -> list[Record]:
        batch: list[Record] = []
        if replay is not None:
            # Exactly the saved range; records before it were acked, records after wait.
            while not self._stop.is_set():
                while self._pending and self._pending[0].id <= replay.last_id:
                    batch.append(self._pending.popleft())
                if (batch and batch[-1].id >= replay.last_id) or (
                    self._pending and self._pending[0].id > replay.last_id
                ):
                    return batch
                self._read(0.2, 64 << 20)
            return batch
        cfg = self._config.batch
        max_bytes = cfg.max_size_mib << 20
        rows = size = 0
        deadline = time.monotonic() + cfg.flush_interval_s
        while not self._stop.is_set():
            while self._pending and rows < cfg.max_rows and size < max_bytes:
                record = self._pending.popleft()
                batch.append(record)
                size += len(record.payload)
                rows += self._rows(record)
            if rows >= cfg.max_rows or size >= max_bytes:
                return batch
            remaining = deadline - time.monotonic()
            if batch and (remaining <= 0 or self._hurry.is_set()):
                self._hurry.clear()
                return batch
            if not batch:
                deadline = time.monotonic() + cfg.flush_interval_s
                remaining = cfg.flush_interval_s
            poll = 0.01 if batch else 0.5  # an open batch: notice flush_now() soon
            self._read(min(max(remaining, 0.01), poll), max_bytes - size)
        return batch

    def _rows(self, record: Record) -> int:
        rows = self._counted.get(record.id)
        if rows is None:
            try:
                rows = count_wire_items(Signal(record.kind), record.payload)
            except Exception:
                rows = 1  # undecodable here; ClickHouse will decide, the bisect sets it aside
            self._counted[record.id] = rows
        return rows

    def _write(self, batch: list[Record]) -> None:
        plan = BatchPlan(batch[0].id, batch[-1].id)
        self._plans.save(plan)
        by_signal: dict[Signal, list[Record]] = {}
        for record in batch:
            by_signal.setdefault(Signal(record.kind), []).append(record)
        for signal, records in by_signal.items():
            self._insert_signal(signal, records, plan.token)
        self._source.ack(CURSOR, plan.first_id, plan.last_id)
        self._counted.clear()
        self.batches_done += 1

    def _insert_signal(self, signal: Signal, records: list[Record], token: str) -> None:
        payloads = [r.payload for r in records]
        ids = [r.id for r in records]
        try:
            self._with_retry(lambda: self._inserter.insert(signal, payloads, token, ids=ids))
            for record in records:
                telemetry.INSERT_ROWS.labels(signal.name.lower()).inc(self._rows(record))
        except PermanentError as e:
            log.warning("clickhouse refused a %s batch (%s); bisecting", signal.name.lower(), e)
            # Only the refused sub-ranges: the others landed under their own tokens.
            ranges = getattr(e, "ranges", ()) or ((0, len(records)),)
            for lo, hi in ranges:
                self._bisect(signal, records[lo:hi], token, _refusing(e))

    def _bisect(
        self, signal: Signal, records: list[Record], token: str, tables: frozenset[str] | None
    ) -> None:
        """Insert halves separately (tokens extended with the half's range) into the tables
        that refused (the others already hold every row) until the refused records are
        isolated; those are set aside, everything else lands."""
        if len(records) == 1:
            try:
                sub = f"{token}/{records[0].id}"
                payload = [records[0].payload]
                self._with_retry(lambda: self._inserter.insert(signal, payload, sub, tables))
            except PermanentError as e:
                self._on_set_aside(records[0], str(e))
            return
        mid = len(records) // 2
        for half in (records[:mid], records[mid:]):
            sub = f"{token}/{half[0].id}-{half[-1].id}"
            payloads = [r.payload for r in half]
            try:
                self._with_retry(
                    lambda p=payloads, t=sub: self._inserter.insert(signal, p, t, tables)  # type: ignore[misc]
                )
            except PermanentError as e:
                narrower = _refusing(e)
                self._bisect(signal, half, sub, narrower if narrower is not None else tables)

    def _with_retry(self, fn: Callable[[], None]) -> None:
        retry = self._config.retry_on_failure
        if not retry.enabled:
            fn()
            return
        stop = (
            stop_after_delay(retry.max_elapsed_time_s) if retry.max_elapsed_time_s else stop_never
        )
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            wait=wait_exponential_jitter(
                multiplier=retry.initial_interval_s,
                max=retry.max_interval_s,
                exp_base=retry.multiplier,
                jitter=retry.initial_interval_s * retry.randomization_factor,
            ),
            stop=stop,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        retrying(fn)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopping

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.last_error = str(error)
        log.warning(
            "clickhouse insert failed (attempt %d), retrying: %s", state.attempt_number, error
        )

    @staticmethod
    def _log_set_aside(record: Record, reason: str) -> None:
        log.error("clickhouse refused WAL record %d permanently; set aside: %s", record.id, reason)
