"""Query API fixtures: the process's one chDB engine (`chdb_dir`), a database of typed rows, and
query servers on an event loop in a background thread, so tests use plain blocking clients.

chDB opens one data directory per process, so everything here uses the session's `chdb_dir`
and isolates itself in its own database (`api_db`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ROWS, LoopThread, Pki, QueryServer, make_pki
from clickhouse_connect.driver.client import Client

from driftline.api.server import start_query_server
from driftline.config.model import QueryConfig
from driftline.storage.client import Target, connect


@pytest.fixture(scope="session")
def engine_target(chdb_dir: Path) -> Target:
    return Target(embedded_path=str(chdb_dir))


@pytest.fixture(scope="session")
def engine(engine_target: Target) -> Iterator[Client]:
    client = connect(engine_target)
    yield client
    client.close()


@pytest.fixture(scope="session")
def api_db(engine: Client) -> Iterator[str]:
    """A database with `typed` (ROWS rows of many types) and an empty `writable` table."""
    database = f"api_{uuid.uuid4().hex[:8]}"
    engine.command(f"CREATE DATABASE {database}")
    engine.command(
        f"""CREATE TABLE {database}.typed (
            id UInt64, score Float64, name String, attrs Map(String, String),
            tags Array(String), ts DateTime64(3, 'UTC'), note Nullable(String), delta Int32,
            ok Bool
        ) ENGINE = MergeTree ORDER BY id"""
    )
    engine.command(
        f"""INSERT INTO {database}.typed SELECT
            number, number / 4, concat('model-', toString(number)),
            map('team', 'ml', 'n', toString(number)), ['a', toString(number)],
            toDateTime64('2024-05-01 12:00:00.250', 3, 'UTC') + number,
            if(number % 2 = 0, NULL, 'odd'), -toInt32(number), number % 2 = 0
        FROM numbers({ROWS})"""
    )
    engine.command(f"CREATE TABLE {database}.writable (x UInt64) ENGINE = MergeTree ORDER BY x")
    yield database
    engine.command(f"DROP DATABASE {database}")


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def start_server(
    loop_thread: LoopThread, engine_target: Target, api_db: str
) -> Iterator[Callable[..., QueryServer]]:
    """start_server(**QueryConfig fields, client_factory=...) → a running QueryServer."""
    started: list[QueryServer] = []

    def start(client_factory: Callable[[], Client] | None = None, **fields: Any) -> QueryServer:
        config = QueryConfig(endpoint="127.0.0.1:0", **fields)
        factory = client_factory or (lambda: connect(engine_target))
        server, port = loop_thread.run(start_query_server(config, factory))
        started.append(QueryServer(port, server))
        return started[-1]

    yield start
    for running in started:
        loop_thread.run(running.server.stop(0))


@pytest.fixture(scope="session")
def query_server(
    loop_thread: LoopThread, engine_target: Target, api_db: str
) -> Iterator[QueryServer]:
    """A shared server without a token: max_rows 100, max_execution_time 2 s."""
    config = QueryConfig(endpoint="127.0.0.1:0", max_rows=100, max_execution_time_s=2.0)
    server, port = loop_thread.run(start_query_server(config, lambda: connect(engine_target)))
    yield QueryServer(port, server)
    loop_thread.run(server.stop(0))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    made = make_pki(tmp_path_factory.mktemp("pki"))
    if made is None:
        pytest.skip("openssl is not installed")
    return made
