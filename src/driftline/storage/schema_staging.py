"""Migration 9: the span staging table and its views (see ingest_staging for the data flow).

The views target the exporter-named tables (Distributed ones on a cluster, so rows are
sharded as before); the staging table itself stores nothing (`Null` engine).
"""

from __future__ import annotations

from driftline.storage.ddl import DdlContext
from driftline.storage.ingest_staging import SPANS_STAGING, STAGING_COLUMNS, span_views, view_name


def span_staging(ctx: DdlContext) -> list[str]:
    columns = ",\n    ".join(f"`{name}` {type_}" for name, type_ in STAGING_COLUMNS)
    staging = ctx.qualified(SPANS_STAGING)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {staging}{ctx.on_cluster} (\n    {columns}\n) ENGINE = Null"
    ]
    for view in span_views():
        select = view.select.replace("{source}", staging)
        statements.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {ctx.qualified(view_name(view.table))}"
            f"{ctx.on_cluster}\nTO {ctx.qualified(view.table)}\nAS {select}"
        )
    return statements
