"""The loop every WAL consumer shares: cursor read → batch → deliver (retry) → ack → shutdown.

    reader thread (one)                        worker threads (`workers`)
      before_batch()       e.g. lag shedding     take a batch
      take a free slot                           deliver(batch)   retries inside, see retry()
      next_batch(reader)   build from the WAL    ack(first_id, last_id)
      nothing in it → ack at once                free the slot
      hand it to a worker

A subclass says how to build a batch (`next_batch`) and how to deliver one (`deliver`); this
class owns the threads, the slots, what is in flight, acknowledgement, retries and stopping.
The Collector's exporterhelper is the model: one queue-and-retry for every exporter.

- Slots. The reader takes a slot *before* it reads, so a batch is built when a worker can
  take it, from everything the WAL holds by then. With one worker, one batch is in flight.
- A batch in flight is never dropped. An unexpected error in `deliver` (disk full, the engine
  restarting, a bug) is logged and the same batch delivered again after a pause, until it
  succeeds or the consumer stops; the subclass makes redelivery safe (dedup tokens, or
  at-least-once). So a consumer resumes by itself once the cause is gone.
- An unexpected error while building a batch: records taken off the cursor but never handed
  out would hold the checkpoint back, so the reader waits for the batches in flight, rewinds
  the cursor to its checkpoint and reads again.
- Acknowledgements may come out of order (several workers); the WAL moves the checkpoint over
  the contiguous prefix.
- Stopping: `stop()` ends the reader; waits inside `retry()` raise Stopping, which leaves that
  batch unacknowledged (the WAL hands it out again after a restart).

Lag is the WAL's own gauge per cursor (driftline_wal_cursor_lag_records|bytes); the loop adds
driftline_consumer_* counters (metrics.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Generic, Protocol, TypeVar

from tenacity import RetryCallState

from driftline.config.model import RetryConfig
from driftline.export.consumer import metrics
from driftline.export.consumer.backoff import call_with_retry
from driftline.export.records import Record, RecordSource

log = logging.getLogger(__name__)

SLOT_WAIT_S: Final = 0.25
ERROR_PAUSE_S: Final = 1.0
T = TypeVar("T")


class Batch(Protocol):
    """A contiguous range of WAL ids, acknowledged whole."""

    @property
    def first_id(self) -> int: ...
    @property
    def last_id(self) -> int: ...
    @property
    def empty(self) -> bool:
        """Nothing in it for this consumer: acknowledged without delivery."""
        ...


B = TypeVar("B", bound=Batch)


class Stopping(Exception):
    """Raised out of a wait when the consumer stops: the batch stays unacknowledged."""


class Abandoned(Exception):
    """Raised out of a wait when the consumer has given up on the batch (e.g. lag shedding)."""


class CursorReader:
    """Records read through one cursor and not yet put into a batch."""

    def __init__(self, source: RecordSource, cursor: str) -> None:
        self.source = source
        self.cursor = cursor
        self.pending: deque[Record] = deque()

    def read(self, max_records: int, max_bytes: int, timeout_s: float) -> int:
        """Append the next records (waiting up to `timeout_s` for the first); return how many."""
        got = self.source.read(self.cursor, max_records, max_bytes, timeout_s)
        self.pending.extend(got)
        return len(got)

    def rewind(self) -> None:
        self.pending.clear()
        self.source.rewind(self.cursor)


class WalConsumer(Generic[B]):
    def __init__(self, name: str, source: RecordSource, cursor: str, *, workers: int = 1) -> None:
        self.name = name
        self.cursor = cursor
        self.reader = CursorReader(source, cursor)
        self.stopping = threading.Event()
        self.batches_done = 0
        self.last_error = ""
        self._source = source
        self._workers = workers
        self._slots = threading.Semaphore(workers)
        self._queue: queue.SimpleQueue[B | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._in_flight: dict[int, B] = {}  # by first_id: handed to a worker, not acked
        self._in_flight_lock = threading.Lock()

    # ---- what a consumer defines -------------------------------------------------------------

    def next_batch(self, reader: CursorReader) -> B | None:
        """Build the next batch from `reader` (reading as needed); None: nothing yet."""
        raise NotImplementedError

    def deliver(self, batch: B) -> None:
        """Deliver `batch` whole; return once it may be acknowledged. Raise to be called
        again with the same batch after a pause (Stopping: leave it unacknowledged)."""
        raise NotImplementedError

    def before_batch(self) -> None:
        """Called by the reader before each batch (e.g. to shed lag)."""

    def close(self) -> None:
        """Called once the threads have stopped (e.g. to close a transport)."""

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run_reader, name=self.name, daemon=True),
            *(
                threading.Thread(target=self._run_worker, name=f"{self.name}-{i}", daemon=True)
                for i in range(self._workers)
            ),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop reading; deliveries in flight finish (or give up at their next wait) within
        `timeout_s`; unacknowledged records stay in the WAL for the next start."""
        self.stopping.set()
        for _ in range(self._workers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.close()

    def shutdown(self, grace_s: float) -> None:
        self.stop(timeout_s=max(1.0, grace_s))

    # ---- helpers for subclasses --------------------------------------------------------------

    def sleep(self, seconds: float, abandon: Callable[[], bool] | None = None) -> None:
        """Wait; raise Stopping when the consumer stops, Abandoned when `abandon()` says so."""
        deadline = time.monotonic() + seconds
        while True:
            if abandon is not None and abandon():
                raise Abandoned
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.stopping.wait(min(remaining, 0.1)):
                raise Stopping

    def retry(
        self,
        fn: Callable[[], T],
        config: RetryConfig,
        *,
        what: str,
        on_retry: Callable[[RetryCallState], None] | None = None,
        abandon: Callable[[], bool] | None = None,
        retry_too_large: bool = True,
    ) -> T:
        """`fn()` under `retry_on_failure` (backoff.py), waiting through `sleep`."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.last_error = str(error)
            metrics.RETRIES.labels(self.name).inc()
            if on_retry is not None:
                on_retry(state)
            elif state.attempt_number == 1 or state.attempt_number % 10 == 0:
                log.warning(
                    "%s: %s failed (attempt %d), retrying in %.1f s: %s",
                    self.name, what, state.attempt_number, state.upcoming_sleep, error,
                )  # fmt: skip

        return call_with_retry(
            fn,
            config,
            sleep=lambda s: self.sleep(s, abandon),
            before_sleep=before_sleep,
            retry_too_large=retry_too_large,
        )

    def in_flight(self) -> list[B]:
        with self._in_flight_lock:
            return sorted(self._in_flight.values(), key=lambda b: b.first_id)

    def ack(self, first_id: int, last_id: int) -> None:
        try:
            self._source.ack(self.cursor, first_id, last_id)
        except RuntimeError:
            if not self.stopping.is_set():
                raise
            # A delivery that outlived stop(): the WAL is closed; the next start resends it.
            log.info("%s: WAL closed before ids %d..%d were acked", self.name, first_id, last_id)

    # ---- the threads -------------------------------------------------------------------------

    def _run_reader(self) -> None:
        while not self.stopping.is_set():
            try:
                self.before_batch()
                if not self._slots.acquire(timeout=SLOT_WAIT_S):
                    continue
                handed = False
                try:
                    batch = self.next_batch(self.reader)
                    if batch is None:
                        continue
                    if batch.empty:
                        self.ack(batch.first_id, batch.last_id)
                        continue
                    with self._in_flight_lock:
                        self._in_flight[batch.first_id] = batch
                        metrics.IN_FLIGHT.labels(self.name).set(len(self._in_flight))
                    self._queue.put(batch)
                    handed = True
                finally:
                    if not handed:
                        self._slots.release()
            except Stopping:
                return
            except Exception:  # never let the reader die: the data is safe in the WAL
                metrics.ERRORS.labels(self.name, "read").inc()
                log.exception("%s: unexpected error building a batch; re-reading in 1 s", self.name)
                self._reread()

    def _reread(self) -> None:
        """Read again from the checkpoint, once nothing is in flight (a batch being delivered
        must not be read into a second one)."""
        while self.in_flight() and not self.stopping.wait(0.05):
            pass
        if self.stopping.is_set():
            return
        self.reader.rewind()
        self.stopping.wait(ERROR_PAUSE_S)

    def _run_worker(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            delivered = self._deliver_until_done(batch)
            # The slot is free before the ack: acknowledging writes (and fsyncs) the ledger,
            # and the next batch need not wait for that.
            self._slots.release()
            if delivered:
                self.ack(batch.first_id, batch.last_id)
                self.batches_done += 1
                metrics.BATCHES.labels(self.name).inc()
            with self._in_flight_lock:
                self._in_flight.pop(batch.first_id, None)
                metrics.IN_FLIGHT.labels(self.name).set(len(self._in_flight))

    def _deliver_until_done(self, batch: B) -> bool:
        failures = 0
        while True:
            try:
                self.deliver(batch)
                return True
            except Stopping:
                return False
            except Exception as e:  # the batch stays in hand: delivered again after a pause
                failures += 1
                self.last_error = str(e)
                metrics.ERRORS.labels(self.name, "deliver").inc()
                if failures == 1 or failures % 30 == 0:
                    log.exception(
                        "%s: unexpected error delivering ids %d..%d (failure %d); retrying",
                        self.name, batch.first_id, batch.last_id, failures,
                    )  # fmt: skip
                if self.stopping.wait(ERROR_PAUSE_S):
                    return False
