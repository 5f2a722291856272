"""storage/bind.py: the database travels as a bound Identifier on every client call we use."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from driftline.storage.bind import DB, bound, table
from driftline.storage.client import Target, connect


def test_identifier_binding_reaches_query_command_and_numpy(chdb_dir: Path) -> None:
    # a name that would need quoting if it were pasted into the text
    database = f"bind-test-{uuid.uuid4().hex[:6]}"
    client = connect(Target(embedded_path=str(chdb_dir), database=database))
    client.command(f"CREATE DATABASE {DB}", parameters=bound(database))
    try:
        client.command(
            f"CREATE TABLE {table('ml_t')} (x Int64) ENGINE = MergeTree ORDER BY x",
            parameters=bound(database),
        )
        client.command(
            f"INSERT INTO {table('ml_t')} SELECT number FROM numbers({{n:UInt64}})",
            parameters=bound(database, n=5),
        )
        rows = client.query(
            f"SELECT sum(x), {{tag:String}} FROM {table('ml_t')}",
            parameters=bound(database, tag="t"),
        ).result_rows
        assert rows == [(10, "t")]
        values = client.query_np(f"SELECT toFloat64(x) FROM {table('ml_t')} ORDER BY x",
                                 parameters=bound(database))  # fmt: skip
        np.testing.assert_array_equal(np.asarray(values, dtype=float).ravel(), np.arange(5.0))
    finally:
        client.command(f"DROP DATABASE {DB}", parameters=bound(database))
