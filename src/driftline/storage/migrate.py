"""Apply pending schema migrations and record them in `driftline_schema_migrations`.

Statements are idempotent (`IF NOT EXISTS`), and a migration is recorded only after all its
statements ran, so a process killed mid-migration simply re-runs it on the next start.
"""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from driftline.storage.schema import MIGRATIONS, MIGRATIONS_TABLE, DdlContext, migrations_table_ddl

log = logging.getLogger(__name__)


def applied_versions(client: Client, ctx: DdlContext) -> set[int]:
    rows = client.query(f"SELECT version FROM `{ctx.database}`.`{MIGRATIONS_TABLE}`").result_rows
    return {int(r[0]) for r in rows}


def migrate(client: Client, ctx: DdlContext) -> list[int]:
    """Run every migration not yet recorded; return the versions applied now."""
    if ctx.database != "default":
        client.command(f"CREATE DATABASE IF NOT EXISTS `{ctx.database}`{ctx.on_cluster}")
    client.command(migrations_table_ddl(ctx))
    done = applied_versions(client, ctx)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements(ctx):
            client.command(statement)
        client.command(
            f"INSERT INTO `{ctx.database}`.`{MIGRATIONS_TABLE}` (version, name) VALUES "
            "({v:UInt32}, {n:String})",
            parameters={"v": migration.version, "n": migration.name},
        )
        log.info("applied migration %03d %s", migration.version, migration.name)
        applied.append(migration.version)
    return applied
