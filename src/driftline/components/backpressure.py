"""The receivers' durable log: the WAL, refusing new data (retryably) while the ClickHouse sink
lags the head by more than `max_lag_bytes` — "storage far behind" — or the WAL is full.

The lag is read from the WAL's stats at most every 100 ms: a submit costs a clock read, not a
stats walk, and a sink that catches up unblocks ingest within that interval.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Final

from driftline.errors import WalFullError
from driftline.export.clickhouse.sink import CURSOR as CLICKHOUSE_CURSOR
from driftline.wal import Wal

LAG_CHECK_INTERVAL_S: Final = 0.1


class BackpressureLog:
    def __init__(self, wal: Wal, max_lag_bytes: int, retry_after_s: float) -> None:
        self._wal = wal
        self._max_lag = max_lag_bytes
        self._retry_after_s = retry_after_s
        self._checked_at = 0.0
        self._lagging = False
        self._lock = threading.Lock()

    def _storage_lagging(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= LAG_CHECK_INTERVAL_S:
            with self._lock:
                if now - self._checked_at >= LAG_CHECK_INTERVAL_S:
                    stats = self._wal.stats()
                    cursor = stats.cursors.get(CLICKHOUSE_CURSOR)
                    self._lagging = cursor is not None and cursor.lag_bytes > self._max_lag
                    self._checked_at = now
        return self._lagging

    def submit(self, kind: int, payload: bytes) -> Future[int]:
        if self._storage_lagging():
            raise WalFullError("storage is far behind; retry later", delay_s=self._retry_after_s)
        return self._wal.submit(kind, payload)
