"""Runs derived_sql's statement: which (model, version) pairs the derived-signal loop covers."""

from __future__ import annotations

from collections.abc import Sequence

from clickhouse_connect.driver.client import Client

from driftline.storage import derived_sql


def recent_model_versions(
    client: Client, database: str, start_ns: int, end_ns: int, models: Sequence[str] = ()
) -> list[tuple[str, str]]:
    sql, params = derived_sql.recent_model_versions(database, start_ns, end_ns, models)
    return [(str(m), str(v)) for m, v in client.query(sql, parameters=params).result_rows]
