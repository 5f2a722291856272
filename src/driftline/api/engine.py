"""The threads that talk to ClickHouse for the query API, one clickhouse-connect client each.

clickhouse-connect clients are blocking and not meant to be shared between threads, so RPC
handlers hand their ClickHouse work to a `ThreadPoolExecutor` and every worker thread keeps its
own client in a `threading.local()`, made on first use by the `client_factory` it was given.
A client that failed to reach ClickHouse is dropped; the thread makes a new one next time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from clickhouse_connect.driver.client import Client

from driftline.query.sql import StorageUnavailableError, classify

DEFAULT_WORKERS: Final = 4

T = TypeVar("T")
log = logging.getLogger(__name__)


class EnginePool:
    """Runs `work(client)` on a worker thread with that thread's own ClickHouse client."""

    def __init__(
        self, client_factory: Callable[[], Client], *, workers: int = DEFAULT_WORKERS
    ) -> None:
        self._factory = client_factory
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="driftline-query")
        self._local = threading.local()
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, work: Callable[[Client], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def close(self) -> None:
        """Wait for running work, then close every client. Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._closed = True
            clients, self._clients = self._clients, set()
        for client in clients:
            _close(client)

    def _call(self, work: Callable[[Client], T]) -> T:
        client = self._client()
        try:
            return work(client)
        except StorageUnavailableError:
            self._discard(client)
            raise

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is not None:
            return client
        try:
            client = self._factory()
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, StorageUnavailableError):
                raise error from exc
            raise StorageUnavailableError(f"cannot connect to ClickHouse: {exc}") from exc
        with self._lock:
            if self._closed:
                _close(client)
                raise StorageUnavailableError("the query API is shutting down")
            self._clients.add(client)
        self._local.client = client
        return client

    def _discard(self, client: Client) -> None:
        self._local.client = None
        with self._lock:
            self._clients.discard(client)
        _close(client)


def _close(client: Client) -> None:
    try:
        client.close()
    except Exception:  # closing is best effort; the engine may already be gone
        log.debug("closing a ClickHouse client failed", exc_info=True)
