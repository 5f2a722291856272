"""One OTLP destination: WAL cursor "forward:<name>" → batches → transport → acknowledgement.

    reader thread (one):                       consumer threads (num_consumers):
      wait for a free consumer slot              take a batch
      read records up to max_batch_bytes         send each request; retry per the OTLP rules
      per record: decode, transform hook,        ack(first_id, last_id) on the cursor
        count, re-pack (encode/repack.py)        free the slot
      hand the batch over

A batch is a contiguous range of WAL ids; it is acknowledged only after every request in it
was accepted by the destination, answered with a partial success, refused permanently, or
given up on (retries exhausted, or shed for lag) — the last three counted as drops. Batches
finish out of order; the WAL moves the checkpoint over the contiguous prefix, so a restart
resends whatever was not yet acknowledged: at-least-once, with resends counted.

The reader takes a slot *before* it reads, so a batch is built when a consumer can send it,
from everything the WAL holds by then: under load, small requests are combined up to
max_batch_bytes; when idle, a request goes out alone at once (no linger).

Without a transform, a record whose item count and size fit is forwarded as the WAL's bytes
(combined by concatenation, see repack.py), never decoded: its items are counted on the wire
(encode/count.py). With a
transform, every record is decoded, transformed in place, and encoded again.

Lag. Nothing here blocks ingest: the receivers' backpressure looks only at the ClickHouse
cursor and the WAL's size. But an unacknowledged cursor pins its WAL segments, so a dead
destination would fill the WAL to wal.max_size_mib, and then ingest stops. To prevent that, a
destination more than max_lag_mib behind sheds its oldest records until the lag is under 90 %
of the cap: first the batches in flight, oldest first (a batch is abandoned whole, so the
granularity is max_batch_bytes), then records read and acknowledged unsent, all counted as
dropped with reason "lag" (the Collector's sending_queue drops data when full, too).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from google.protobuf.message import DecodeError, Message
from tenacity import RetryCallState

from driftline.config.model import OtlpExporterConfig
from driftline.export.consumer.backoff import call_with_retry
from driftline.export.otlp import metrics
from driftline.export.otlp.encode.count import count_wire_items
from driftline.export.otlp.encode.repack import Packer, Piece, split_to_fit
from driftline.export.otlp.encode.shapes import BY_NAME, SHAPES, count_items
from driftline.export.otlp.state import SentMark
from driftline.export.otlp.transport import Accepted, ExportRefused, ExportRetryable, Transport
from driftline.export.records import Record, RecordSource
from driftline.signals import Signal

log = logging.getLogger(__name__)

Transform = Callable[[Signal, Message], None]
"""Called with each decoded Export*ServiceRequest before it is encoded; edits it in place."""

_READ_MAX_RECORDS = 256
_SLOT_WAIT_S = 0.25
_LAG_CHECK_INTERVAL_S = 0.5
_SHED_TARGET = 0.9
_SHED_READ_BYTES = 1 << 20


class RewindableSource(RecordSource, Protocol):
    """The part of the WAL a forwarder uses: a source whose cursor can go back to its
    checkpoint (after an unexpected reader error)."""

    def rewind(self, cursor: str) -> None: ...


@dataclass(slots=True)
class Batch:
    first_id: int
    last_id: int
    pieces: list[Piece]
    sent: int = 0  # pieces finished (accepted, refused or given up on)
    attempts: dict[int, int] = field(default_factory=dict)


class _Stopping(Exception):
    """Raised out of a retry sleep when the forwarder stops: the batch stays unacked."""


class _Abandoned(Exception):
    """Raised out of a retry sleep when lag shedding has given up on the batch."""


class OtlpForwarder:
    def __init__(
        self,
        source: RewindableSource,
        config: OtlpExporterConfig,
        transport: Transport,
        state_dir: str | Path,
        *,
        transform: Transform | None = None,
        lag_bytes: Callable[[], int] | None = None,
    ) -> None:
        self.name = config.name
        self.cursor = config.cursor
        self._source = source
        self._config = config
        self._transport = transport
        self._transform = transform
        self._lag_bytes = lag_bytes
        self._signals = frozenset(BY_NAME[s].signal for s in config.signals)
        self._slots = threading.Semaphore(config.num_consumers)
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._pending: deque[Record] = deque()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._mark = SentMark(Path(state_dir) / f"forward-{config.name}.json")
        self._restart_mark = self._mark.value  # ids up to here may be downstream already
        self._handed_through = 0  # the last id the reader put into a batch
        self._drop_through = 0  # batches ending at or before this are abandoned (lag)
        self._in_flight: dict[int, Batch] = {}  # by first_id: handed to a consumer, not acked
        self._in_flight_lock = threading.Lock()
        self._lag_checked_at = 0.0
        self.batches_done = 0
        self.last_error = ""

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run_reader, name=f"forward-{self.name}", daemon=True)
        ] + [
            threading.Thread(
                target=self._run_consumer, name=f"forward-{self.name}-{i}", daemon=True
            )
            for i in range(self._config.num_consumers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop reading; requests in flight finish (or time out); unacked records stay in the
        WAL and are sent by the next start."""
        self._stop.set()
        for _ in range(self._config.num_consumers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._transport.close()

    def shutdown(self, grace_s: float) -> None:
        self.stop(timeout_s=max(1.0, grace_s))

    # ---- reader ------------------------------------------------------------------------------

    def _run_reader(self) -> None:
        while not self._stop.is_set():
            try:
                if self._lagging():
                    self._shed()
                    continue
                if not self._slots.acquire(timeout=_SLOT_WAIT_S):
                    continue
                handed = False
                try:
                    batch = self._next_batch()
                    if batch is None:
                        continue
                    self._handed_through = batch.last_id
                    if not batch.pieces:  # nothing in it for this destination
                        self._ack(batch.first_id, batch.last_id)
                        continue
                    with self._in_flight_lock:
                        self._in_flight[batch.first_id] = batch
                    self._queue.put(batch)
                    handed = True
                finally:
                    if not handed:
                        self._slots.release()
            except Exception:  # never let the reader die: the data is safe in the WAL
                log.exception("forwarder %s: unexpected error; re-reading in 1 s", self.name)
                # Records taken off the cursor but never handed out would hold the checkpoint
                # back until a restart: read again from the checkpoint (at-least-once).
                self._pending.clear()
                self._source.rewind(self.cursor)
                self._stop.wait(1.0)

    def _next_batch(self) -> Batch | None:
        max_bytes = self._config.max_batch_bytes
        records: list[Record] = []
        size = 0
        wait_s = _SLOT_WAIT_S
        while size < max_bytes and not self._stop.is_set():
            if not self._pending:
                got = self._source.read(self.cursor, _READ_MAX_RECORDS, max_bytes - size, wait_s)
                if not got:
                    break
                self._pending.extend(got)
            wait_s = 0.0  # only the first read waits: then send what there is
            while self._pending:
                record = self._pending[0]
                if records and size + len(record.payload) > max_bytes:
                    size = max_bytes  # full
                    break
                records.append(self._pending.popleft())
                size += len(record.payload)
        if not records:
            return None
        packers: dict[Signal, Packer] = {}
        for record in records:
            signal = _signal(record)
            if signal is None or signal not in self._signals:
                continue
            packer = packers.get(signal)
            if packer is None:
                packer = packers[signal] = Packer(
                    signal, self._config.max_batch_items, self._config.max_batch_bytes
                )
            packer.add_all(self._pieces(record, signal))
        pieces = [piece for packer in packers.values() for piece in packer.finish()]
        return Batch(records[0].id, records[-1].id, pieces)

    def _pieces(self, record: Record, signal: Signal) -> list[Piece]:
        label = SHAPES[signal].name
        cfg = self._config
        payload = record.payload
        transform = self._transform
        try:
            if transform is None:
                items = count_wire_items(signal, payload)  # no decode unless it must be split
                request = None
            else:
                request = SHAPES[signal].request.FromString(payload)
        except DecodeError as e:
            metrics.DROPPED_ITEMS.labels(self.name, label, "undecodable").inc()
            log.error("forwarder %s: WAL record %d does not decode: %s", self.name, record.id, e)
            return []
        if transform is not None and request is not None:
            before = count_items(signal, request)
            try:
                transform(signal, request)
            except Exception:
                metrics.DROPPED_ITEMS.labels(self.name, label, "transform").inc(before)
                log.exception("forwarder %s: transform failed on record %d", self.name, record.id)
                return []
            payload = request.SerializeToString()
            items = count_items(signal, request)
        if record.id <= self._restart_mark:
            metrics.RESENT_ITEMS.labels(self.name, label, "restart").inc(items)
        fits_items = not cfg.max_batch_items or items <= cfg.max_batch_items
        if fits_items and len(payload) <= cfg.max_batch_bytes:
            return [Piece(signal, payload, items)]
        if request is None:
            request = SHAPES[signal].request.FromString(payload)
        return split_to_fit(signal, request, items, cfg.max_batch_items, cfg.max_batch_bytes)

    # ---- lag shedding ------------------------------------------------------------------------

    def _lagging(self) -> bool:
        if not self._config.max_lag_mib or self._lag_bytes is None:
            return False
        now = time.monotonic()
        if now - self._lag_checked_at < _LAG_CHECK_INTERVAL_S:
            return False
        self._lag_checked_at = now
        return self._lag_bytes() > self._config.max_lag_mib << 20

    def _shed(self) -> None:
        assert self._lag_bytes is not None
        target = self._config.max_lag_mib * _SHED_TARGET * (1 << 20)
        log.warning(
            "forwarder %s: %d MiB behind (max_lag_mib %d); dropping its oldest records",
            self.name, self._lag_bytes() >> 20, self._config.max_lag_mib,
        )  # fmt: skip
        # The batches in flight hold the oldest records: give those up first, oldest first,
        # each until its consumer has acknowledged it (so the checkpoint moves past it).
        while not self._stop.is_set() and self._lag_bytes() > target:
            with self._in_flight_lock:
                oldest = min(self._in_flight.values(), key=lambda b: b.first_id, default=None)
            if oldest is None:
                break
            self._drop_through = max(self._drop_through, oldest.last_id)
            while not self._stop.is_set():
                with self._in_flight_lock:
                    if oldest.first_id not in self._in_flight:
                        break
                self._stop.wait(0.01)
        # Then records not yet handed out, straight from the WAL, acknowledged unsent.
        while not self._stop.is_set() and self._lag_bytes() > target:
            records = list(self._pending)
            self._pending.clear()
            if not records:
                records = list(self._source.read(self.cursor, 64, _SHED_READ_BYTES, 0.0))
            if not records:
                break
            for record in records:
                self._drop_record(record, "lag")
            self._handed_through = records[-1].id
            self._ack(records[0].id, records[-1].id)

    def _drop_record(self, record: Record, reason: str) -> None:
        signal = _signal(record)
        if signal is None or signal not in self._signals:
            return
        try:
            items = count_wire_items(signal, record.payload)
        except DecodeError:
            items = 1
        metrics.DROPPED_ITEMS.labels(self.name, SHAPES[signal].name, reason).inc(items)

    # ---- consumers ---------------------------------------------------------------------------

    def _run_consumer(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            delivered = False
            try:
                self._deliver(batch)
                delivered = True
            except _Stopping:
                pass  # unacked: the next start sends it again
            finally:
                # The slot is free before the ack: acknowledging writes (and fsyncs) the
                # ledger, and the next batch need not wait for that.
                self._slots.release()
                if delivered:
                    self._ack(batch.first_id, batch.last_id)
                    self.batches_done += 1
                with self._in_flight_lock:
                    self._in_flight.pop(batch.first_id, None)

    def _deliver(self, batch: Batch) -> None:
        while True:
            try:
                self._mark.advance(batch.last_id)
                while batch.sent < len(batch.pieces):
                    self._send(batch, batch.pieces[batch.sent])
                    batch.sent += 1
                break
            except _Abandoned:
                for piece in batch.pieces[batch.sent :]:
                    label = SHAPES[piece.signal].name
                    metrics.DROPPED_ITEMS.labels(self.name, label, "lag").inc(piece.items)
                break
            except (_Stopping, KeyboardInterrupt):
                raise
            except Exception:
                log.exception("forwarder %s: unexpected error; retrying in 1 s", self.name)
                if self._stop.wait(1.0):
                    raise _Stopping from None

    def _send(self, batch: Batch, piece: Piece) -> None:
        label = SHAPES[piece.signal].name
        attempts = 0

        def attempt() -> Accepted:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                metrics.RESENT_ITEMS.labels(self.name, label, "retry").inc(piece.items)
            started = time.monotonic()
            try:
                return self._transport.export(piece.signal, piece.body)
            finally:
                metrics.EXPORT_SECONDS.labels(self.name).observe(time.monotonic() - started)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            code = getattr(error, "code", "unknown")
            metrics.RETRIES.labels(self.name, label, code).inc()
            self.last_error = str(error)
            if state.attempt_number == 1 or state.attempt_number % 10 == 0:
                log.warning(
                    "forwarder %s: export of %d %s failed (attempt %d), retrying in %.1f s: %s",
                    self.name, piece.items, piece.signal.item_name,
                    state.attempt_number, state.upcoming_sleep, error,
                )  # fmt: skip

        def sleep(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while True:
                if batch.last_id <= self._drop_through:
                    raise _Abandoned
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                if self._stop.wait(min(remaining, 0.1)):
                    raise _Stopping

        if batch.last_id <= self._drop_through:
            raise _Abandoned
        try:
            result = call_with_retry(
                attempt, self._config.retry_on_failure, sleep=sleep, before_sleep=before_sleep
            )
        except ExportRefused as e:
            metrics.DROPPED_ITEMS.labels(self.name, label, "permanent").inc(piece.items)
            self.last_error = str(e)
            log.error(
                "forwarder %s: destination refused %d %s permanently (not retried): %s",
                self.name, piece.items, piece.signal.item_name, e,
            )  # fmt: skip
            return
        except ExportRetryable as e:
            metrics.DROPPED_ITEMS.labels(self.name, label, "retries_exhausted").inc(piece.items)
            self.last_error = str(e)
            log.error(
                "forwarder %s: gave up on %d %s after %d attempts: %s",
                self.name, piece.items, piece.signal.item_name, attempts, e,
            )  # fmt: skip
            return
        rejected, message = min(result.rejected, piece.items), result.message
        metrics.SENT_REQUESTS.labels(self.name, label).inc()
        metrics.SENT_ITEMS.labels(self.name, label).inc(piece.items - rejected)
        if rejected:
            metrics.REJECTED_ITEMS.labels(self.name, label).inc(rejected)
            log.warning(
                "forwarder %s: destination rejected %d of %d %s (partial success): %s",
                self.name, rejected, piece.items, piece.signal.item_name, message,
            )  # fmt: skip
        elif message:
            log.warning("forwarder %s: destination warns: %s", self.name, message)

    def _ack(self, first_id: int, last_id: int) -> None:
        try:
            self._source.ack(self.cursor, first_id, last_id)
        except RuntimeError:
            if not self._stop.is_set():
                raise
            # A send that outlived stop(): the WAL is closed; the next start resends it.
            log.info("forwarder %s: WAL closed before ids %d..%d were acked", self.name,
                     first_id, last_id)  # fmt: skip


def _signal(record: Record) -> Signal | None:
    try:
        return Signal(record.kind)
    except ValueError:
        return None
