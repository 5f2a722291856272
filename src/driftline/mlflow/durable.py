"""Writes durable before OK, reads that see every acknowledged write (read-your-writes).

    write: payload → WAL submit → await the record id (fsynced per wal.sync) → OK
           remember the highest id this API appended
    read:  barrier — until the ClickHouse sink's checkpoint (cursor "clickhouse") has passed
           that id: ask the sink to flush its partial batch now, poll every ms or two;
           past `timeout_s`: TEMPORARILY_UNAVAILABLE (503, the MLflow client retries)

So a client that logs and then reads (create_run → get_run, log_metric → get_metric_history)
always sees its write, and so does every other MLflow client of this server; writes never
wait for ClickHouse (log_batch answers at WAL speed), reads wait only when writes are still
in flight to ClickHouse. The writes of other sources (OTLP) are not waited for: they were
never acknowledged to an MLflow client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Final

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from driftline.errors import WalFullError
from driftline.mlflow import events
from driftline.mlflow.errors import TEMPORARILY_UNAVAILABLE, MlflowError
from driftline.receiver.ingest import DurableLog
from driftline.signals import Signal

_POLL_S: Final = 0.002
DEFAULT_READ_TIMEOUT_S: Final = 30.0


class DurableWrites:
    def __init__(
        self,
        log: DurableLog,
        stored_through: Callable[[], int],
        flush_now: Callable[[], None],
        *,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        self._log = log
        self._stored_through = stored_through
        self._flush_now = flush_now
        self._read_timeout_s = read_timeout_s
        self.written_through = 0  # the highest WAL id this API appended (and acknowledged)
        self._last_ns = 0

    def stamp(self) -> int:
        """Now in ns, strictly increasing across calls: events of one server keep their order
        (latest-wins folds for tags, names and statuses compare timestamps)."""
        now = time.time_ns()
        self._last_ns = max(now, self._last_ns + 1)
        return self._last_ns

    async def append(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        payload = events.request(records)
        try:
            future = self._log.submit(int(Signal.LOGS), payload)
            record_id = await asyncio.shield(asyncio.wrap_future(future))
        except WalFullError as exc:
            raise MlflowError(
                TEMPORARILY_UNAVAILABLE, f"driftline cannot take writes now: {exc}",
                retry_after_s=getattr(exc, "delay_s", 1.0),
            ) from exc  # fmt: skip
        self.written_through = max(self.written_through, int(record_id))

    async def barrier(self) -> None:
        target = self.written_through
        if self._stored_through() >= target:
            return
        self._flush_now()
        deadline = time.monotonic() + self._read_timeout_s
        while self._stored_through() < target:
            if time.monotonic() > deadline:
                raise MlflowError(
                    TEMPORARILY_UNAVAILABLE,
                    f"writes are not yet in ClickHouse after {self._read_timeout_s:g} s "
                    "(storage slow or down); retry",
                    retry_after_s=1.0,
                )
            await asyncio.sleep(_POLL_S)
            self._flush_now()
