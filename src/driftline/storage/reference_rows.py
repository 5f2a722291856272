"""Runs reference_sql's statements: copy a window under a snapshot id, count and record it,
and read saved references back as `SavedReference` rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift.types import Window
from driftline.storage import reference_sql


@dataclass(frozen=True, slots=True)
class SavedReference:
    name: str
    model: str
    snapshot: str
    version: str
    start_ns: int
    end_ns: int
    created_ns: int
    rows: int
    inferences: int
    features: tuple[str, ...]
    description: str

    @property
    def window(self) -> Window:
        return Window(self.start_ns, self.end_ns, self.version, self.snapshot)


def _from_row(row: Sequence[Any]) -> SavedReference:
    name, model, snapshot, version, start, end, created, rows, infs, feats, desc = row
    return SavedReference(
        name, model, snapshot, version, int(start), int(end), int(created), int(rows),
        int(infs), tuple(feats), desc,
    )  # fmt: skip


def copy_rows(
    client: Client, database: str, model: str, window: Window, features: Sequence[str],
    snapshot: str,
) -> int:  # fmt: skip
    """Copy the window's feature rows under `snapshot`; how many were copied."""
    sql, params = reference_sql.copy_rows(
        database, model, window.version, window.start_ns, window.end_ns, features, snapshot
    )
    client.command(sql, parameters=params)
    sql, params = reference_sql.snapshot_rows(database, model, snapshot)
    return int(client.query(sql, parameters=params).result_rows[0][0])


def record(
    client: Client, database: str, name: str, model: str, window: Window, snapshot: str,
    created_ns: int, description: str,
) -> None:  # fmt: skip
    sql, params = reference_sql.record(
        database, name, model, window.version, window.start_ns, window.end_ns, snapshot,
        created_ns, description,
    )  # fmt: skip
    client.command(sql, parameters=params)


def latest(client: Client, database: str, model: str, name: str) -> SavedReference | None:
    sql, params = reference_sql.latest(database, model, name)
    rows = client.query(sql, parameters=params).result_rows
    return _from_row(rows[0]) if rows else None


def list_references(client: Client, database: str, model: str = "") -> list[SavedReference]:
    sql, params = reference_sql.list_references(database, model)
    return [_from_row(r) for r in client.query(sql, parameters=params).result_rows]
