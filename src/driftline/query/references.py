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
from typing import Final

from clickhouse_connect.driver.client import Client

from driftline.analysis.drift import EmptyWindowError, Window
from driftline.errors import InvalidInputError, NotFoundError
from driftline.storage import reference_rows
from driftline.storage.reference_rows import SavedReference

NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

__all__ = ["NAME_PATTERN", "SavedReference", "check_name", "get_reference", "list_references",
           "save_reference"]  # fmt: skip


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
    if reference_rows.copy_rows(client, database, model, window, features, snapshot) == 0:
        what = f"model {model!r}" + (f" version {window.version!r}" if window.version else "")
        raise EmptyWindowError(f"{what} has no feature values in the reference window")
    reference_rows.record(
        client, database, name, model, window, snapshot, time.time_ns(), description
    )
    return get_reference(client, database, model, name)


def get_reference(client: Client, database: str, model: str, name: str) -> SavedReference:
    found = reference_rows.latest(client, database, model, name)
    if found is None:
        raise NotFoundError(f"no saved reference {name!r} for model {model!r}")
    return found


def list_references(client: Client, database: str, model: str = "") -> list[SavedReference]:
    return reference_rows.list_references(client, database, model)
