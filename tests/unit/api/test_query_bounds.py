"""Every query bounded in memory and time (#16 items 3 and 4), on the real engine.

- memory: the issue's statement fails alone with RESOURCE_EXHAUSTED and one line, and the
  engine goes on taking inserts;
- time: `DESCRIBE url(...)` to a listener that never answers cannot hold a worker (four of them
  at once leave the API answering); schema inference is bounded by the engine's network
  timeouts even where the sandbox is not in the way; and a statement the engine does not stop
  by itself is answered DEADLINE_EXCEEDED and cancelled, which frees its worker.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from api_harness import QueryServer
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from driftline.api.engine import EnginePool
from driftline.query.sql import SqlTimeoutError, cancel_statement, new_tag, readonly_settings
from driftline.storage.client import Target, connect

BIG_GROUP = "SELECT length(groupArray(repeat('x', 1000))) FROM numbers(5000000)"


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_query_past_its_memory_fails_alone(
    start_server: Callable[..., QueryServer], engine: Client, api_db: str
) -> None:
    server = start_server(max_memory_usage_mib=64, max_execution_time_s=30.0)
    with pytest.raises(grpc.RpcError) as caught:
        server.sql(BIG_GROUP, timeout=60)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    details = caught.value.details() or ""
    assert "max_memory_usage_mib" in details and "\n" not in details
    # The engine is fine: it stores and serves as before.
    engine.command(f"INSERT INTO {api_db}.writable VALUES (7)")
    assert server.sql(f"SELECT count() FROM {api_db}.writable WHERE x = 7").rows
    engine.command(f"ALTER TABLE {api_db}.writable DELETE WHERE x = 7 SETTINGS mutations_sync=1")


def test_four_describe_url_do_not_freeze_the_api(
    start_server: Callable[..., QueryServer], silent_listener: int
) -> None:
    server = start_server(max_execution_time_s=2.0)
    statement = f"DESCRIBE url('http://127.0.0.1:{silent_listener}/x.csv', 'CSV')"
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(server.sql, statement, None, 30.0) for _ in range(4)]
        codes = []
        for future in futures:
            with pytest.raises(grpc.RpcError) as caught:
                future.result()
            codes.append(caught.value.code())
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT] * 4
    assert len(server.sql("SELECT number FROM numbers(3)").rows) == 3  # the workers are free


def test_schema_inference_is_bounded_by_the_settings_alone(
    engine_target: Target, silent_listener: int
) -> None:
    """Past the sandbox (the bare engine, our settings): the network wait ends by itself."""
    client = connect(engine_target)
    try:
        with pytest.raises(DatabaseError, match=r"Timeout|TIMEOUT|timed out"):
            client.query(
                f"DESCRIBE url('http://127.0.0.1:{silent_listener}/x.csv', 'CSV')",
                settings={**readonly_settings(10, 1.0), "readonly": 0},
            )
    finally:
        client.close()


def test_a_statement_past_its_deadline_is_cancelled_and_frees_its_worker(
    engine_target: Target,
) -> None:
    """One worker; its statement ignores every engine limit (no settings at all). The caller
    gets SqlTimeoutError, KILL QUERY stops the statement, the same worker serves the next."""
    pool = EnginePool(lambda: connect(engine_target), workers=1)
    tag = new_tag()
    endless = (
        f"/* driftline-sql:{tag} */ SELECT count() FROM numbers(100000000000) "
        "WHERE sipHash64(number) = 1"
    )

    async def scenario() -> list[tuple[int]]:
        with pytest.raises(SqlTimeoutError, match="cancelled"):
            await pool.run_bounded(
                lambda c: c.query(endless, settings={"max_threads": 1}).result_rows,
                0.5,
                lambda c: cancel_statement(c, tag),
            )
        rows: list[tuple[int]] = await asyncio.wait_for(
            pool.run(lambda c: c.query("SELECT 1").result_rows), 60
        )
        return rows

    try:
        assert [tuple(r) for r in asyncio.run(scenario())] == [(1,)]
    finally:
        pool.close()
