"""How a statement names its database — one way, for every statement in storage/.

Statement text names our tables as `{db:Identifier}.<table>` (`table("ml_features")`), and the
database travels as the bound parameter `db`, like every other value: ClickHouse's server-side
parameter binding, which clickhouse-connect passes through on the HTTP and the chDB interface
alike (`client.query`, `client.command`, `client.query_np`, `client.insert` of a statement).
No statement text is ever built from the database name, so there is nothing to check, quote or
rewrite, and a statement is the same text whatever database it runs in.

    sql = f"SELECT count() FROM {table('ml_inferences')} WHERE ModelName = {{model:String}}"
    client.query(sql, parameters=bound(database, model=model))

A leaf module (no imports from driftline): every storage module may use it.
"""

from __future__ import annotations

from typing import Any, Final

Statement = tuple[str, dict[str, Any]]  # (text with {name:Type} placeholders, parameters)

DB_PARAM: Final = "db"
DB: Final = "{db:Identifier}"  # the database placeholder, for text that needs it on its own


def table(name: str) -> str:
    """`{db:Identifier}.name`: table `name` in the statement's bound database."""
    return f"{DB}.{name}"


def bound(database: str, **values: Any) -> dict[str, Any]:
    """The parameters of a statement: the database plus `values`."""
    return {DB_PARAM: database, **values}
