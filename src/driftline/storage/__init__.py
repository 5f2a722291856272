"""ClickHouse: every SQL statement and DDL of driftline, and the code that runs them.

    bind.py          the one way a statement names its database: `{db:Identifier}` bound
                     like any value (`table(name)`, `bound(database, **values)`)
    *_sql.py         pure statement builders: (text with `{name:Type}` placeholders, params)
    *_rows.py        run the read statements and return typed rows (analysis/ dataclasses
                     where analysis scores them): drift, latency, performance, references,
                     derived
    schema*.py, migrate.py, ingest_*.py, inserter.py   DDL, migrations, column building and
                     inserts (the write path)
    client.py        connections: embedded chDB or a server over HTTP

May import semconv, config, errors, wal types and analysis/ (for the row types it returns);
never query/, api/, export/ or cli/.
"""
