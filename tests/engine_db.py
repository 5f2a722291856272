"""A fresh, migrated database on the process's one embedded engine (see conftest.chdb_dir)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clickhouse_connect.driver.client import Client

from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext


@contextmanager
def fresh_database(chdb_dir: Path, prefix: str) -> Iterator[tuple[Client, Target]]:
    """Create `<prefix>_<random>` with every migration applied; drop it afterwards. Queries
    must name the database: a connected client does not default to it."""
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    target = Target(embedded_path=str(chdb_dir), database=database)
    client = connect(target)
    client.command(f"CREATE DATABASE {database}")
    migrate(client, DdlContext(database=database))
    try:
        yield client, target
    finally:
        client.command(f"DROP DATABASE {database}")
