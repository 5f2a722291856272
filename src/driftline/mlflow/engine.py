"""ClickHouse work off the event loop: a small thread pool, one client per thread (clients are
blocking and not thread-safe), made on first use by the factory."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from clickhouse_connect.driver.client import Client

T = TypeVar("T")


class Engine:
    def __init__(self, client_factory: Callable[[], Client], *, workers: int = 2) -> None:
        self._factory = client_factory
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="driftline-mlflow")
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()

    async def run(self, work: Callable[[Client], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._client()))

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._factory()
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):  # best effort; the process may be exiting
                client.close()
