"""Connections to ClickHouse: embedded chDB (default) or a server over HTTP.

Both go through clickhouse-connect's `Client`, so the SQL and the calling code are the same;
only `get_client(...)` differs. chDB opens one data directory per process and locks it, so the
process that runs `driftline serve` is the only one that touches `<data-dir>/clickhouse`.
clickhouse-connect asks for one client per thread; `connect()` is cheap enough to call per thread.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from driftline.config.model import ClickHouseConfig


@dataclass(frozen=True, slots=True)
class Target:
    """Where the data lives: `embedded_path` for chDB, else the server URL's parts."""

    embedded_path: str = ""
    host: str = ""
    port: int = 8123
    username: str = "default"
    password: str = ""
    database: str = "default"
    secure: bool = False

    @property
    def embedded(self) -> bool:
        return bool(self.embedded_path)

    @classmethod
    def from_config(cls, cfg: ClickHouseConfig, embedded_dir: str) -> Target:
        if not cfg.endpoint:
            return cls(embedded_path=os.path.abspath(embedded_dir), database=cfg.database)
        url = urlparse(cfg.endpoint)
        database = url.path.strip("/") or cfg.database
        return cls(
            host=url.hostname or "127.0.0.1",
            port=url.port or (8443 if url.scheme == "https" else 8123),
            username=unquote(url.username or "default"),
            password=unquote(url.password or ""),
            database=database,
            secure=url.scheme == "https",
        )


# The embedded engine's own bounds (server settings, applied when the first connection starts
# the engine). chDB otherwise sizes itself from the host: 0.9 x host RAM in total (cgroup v1
# limits ignored) and 5 GiB mark / index caches. A full 50k-span trace batch needs ~850 MiB
# of engine memory while it is inserted (measured), so the total cap leaves room for one
# batch plus queries; the caches are what grows without bound otherwise.
ENGINE_LIMITS: Final[dict[str, int]] = {
    "max_server_memory_usage": 1536 << 20,
    "mark_cache_size": 64 << 20,
    "index_mark_cache_size": 32 << 20,
    "primary_index_cache_size": 32 << 20,
    "uncompressed_cache_size": 0,
    "index_uncompressed_cache_size": 0,
    "query_condition_cache_size": 16 << 20,
    "page_cache_size": 0,
}


def connect(target: Target, **settings: Any) -> Client:
    if target.embedded:
        os.makedirs(target.embedded_path, exist_ok=True)
        return clickhouse_connect.get_client(
            interface="chdb",
            path=target.embedded_path,
            settings=settings or None,
            chdb_options=ENGINE_LIMITS,
        )
    return clickhouse_connect.get_client(
        host=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        database=target.database,
        secure=target.secure,
        compress="lz4",
        settings=settings or None,
    )


_TABLE = re.compile(r"\b(FROM|JOIN)\s+((?:ml|otel)_\w+)\b")


def qualify(sql: str, database: str) -> str:
    """Name our tables in `database`: statements in storage/ use bare table names, and a
    connected client does not default to its target's database."""
    return _TABLE.sub(lambda m: f"{m.group(1)} `{database}`.{m.group(2)}", sql)
