"""Saved reference profiles: save a model's reference window under a name, find it, list them.

A drift question against a saved reference (`Window.snapshot`) reads the frozen copy instead of
the live table, so the reference survives the TTL of `ml_features`, and a new current window
costs one pass over the current data (plus a read of the compact copy). The copy and the list
entry are written by the engine alone (storage/reference_sql.py).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import EmptyWindowError, Window
from driftline.errors import InvalidInputError, NotFoundError
from driftline.storage import reference_sql

NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


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


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InvalidInputError(
            f"reference name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def save_reference(
    client: Client,
    database: str,
    *,
    name: str,
    model: str,
    window: Window,
    features: Sequence[str] = (),
    description: str = "",
) -> SavedReference:
    """Copy the model's feature rows in `window` under `name` (a new snapshot if it exists)."""
    check_name(name)
    if not model:
        raise InvalidInputError("model is required")
    if window.end_ns <= window.start_ns:
        raise InvalidInputError("the reference window is empty (end <= start)")
    snapshot = uuid.uuid4().hex
    sql, params = reference_sql.copy_rows(
        database, model, window.version, window.start_ns, window.end_ns, features, snapshot
    )
    client.command(sql, parameters=params)
    sql, params = reference_sql.snapshot_rows(database, model, snapshot)
    if int(client.query(sql, parameters=params).result_rows[0][0]) == 0:
        what = f"model {model!r}" + (f" version {window.version!r}" if window.version else "")
        raise EmptyWindowError(f"{what} has no feature values in the reference window")
    sql, params = reference_sql.record(
        database, name, model, window.version, window.start_ns, window.end_ns, snapshot,
        time.time_ns(), description,
    )  # fmt: skip
    client.command(sql, parameters=params)
    return get_reference(client, database, model, name)


def get_reference(client: Client, database: str, model: str, name: str) -> SavedReference:
    sql, params = reference_sql.latest(database, model, name)
    rows = client.query(sql, parameters=params).result_rows
    if not rows:
        raise NotFoundError(f"no saved reference {name!r} for model {model!r}")
    return _from_row(rows[0])


def list_references(client: Client, database: str, model: str = "") -> list[SavedReference]:
    sql, params = reference_sql.list_references(database, model)
    return [_from_row(r) for r in client.query(sql, parameters=params).result_rows]
