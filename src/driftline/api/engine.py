"""The threads that talk to ClickHouse for the query API, one clickhouse-connect client each.

clickhouse-connect clients are blocking and not meant to be shared between threads, so RPC
handlers hand their ClickHouse work to a `ThreadPoolExecutor` and every worker thread keeps its
own client in a `threading.local()`, made on first use by the `client_factory` it was given.
A client that failed to reach ClickHouse is dropped; the thread makes a new one next time.

`run_bounded` holds a statement to its deadline even when the engine does not: past
`timeout_s` (plus a grace for the engine's own TIMEOUT_EXCEEDED, which names the limit) the
caller is answered DEADLINE_EXCEEDED, and `cancel` runs on a control thread with a client of its
own (the workers may all be stuck), so KILL QUERY frees the worker that ran over.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from clickhouse_connect.driver.client import Client

from driftline.query.sql import SqlTimeoutError, StorageUnavailableError, classify

DEFAULT_WORKERS: Final = 4
# How long past its limit a statement may take to fail by itself before it is cancelled.
CANCEL_GRACE_S: Final = 1.0

T = TypeVar("T")
log = logging.getLogger(__name__)


class EnginePool:
    """Runs `work(client)` on a worker thread with that thread's own ClickHouse client."""

    def __init__(
        self, client_factory: Callable[[], Client], *, workers: int = DEFAULT_WORKERS
    ) -> None:
        self._factory = client_factory
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="driftline-query")
        self._control = ThreadPoolExecutor(1, thread_name_prefix="driftline-query-control")
        self._control_local = threading.local()
        self._local = threading.local()
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, work: Callable[[Client], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    async def run_bounded(
        self, work: Callable[[Client], T], timeout_s: float, cancel: Callable[[Client], None]
    ) -> T:
        """`run(work)`, answered by `timeout_s` + grace at the latest; then `cancel(client)`
        stops the statement on the engine and SqlTimeoutError is raised."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._call, work)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s + CANCEL_GRACE_S)
        except TimeoutError:
            future.add_done_callback(_consume)
            try:
                await loop.run_in_executor(self._control, self._cancel, cancel)
            except Exception:  # cancelling is best effort; the caller gets its answer anyway
                log.warning("cancelling a statement past its deadline failed", exc_info=True)
            raise SqlTimeoutError(
                f"the statement ran past its time limit ({timeout_s:g} s) and was cancelled"
            ) from None

    def _cancel(self, cancel: Callable[[Client], None]) -> None:
        client: Client | None = getattr(self._control_local, "client", None)
        if client is None:
            client = self._factory()
            with self._lock:
                self._clients.add(client)
            self._control_local.client = client
        cancel(client)

    def close(self) -> None:
        """Wait for running work, then close every client. Idempotent."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._control.shutdown(wait=True, cancel_futures=True)
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


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve the late outcome of a statement nobody waits for (no 'never retrieved' log)."""
    if not future.cancelled():
        future.exception()


def _close(client: Client) -> None:
    try:
        client.close()
    except Exception:  # closing is best effort; the engine may already be gone
        log.debug("closing a ClickHouse client failed", exc_info=True)
