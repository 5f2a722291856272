"""The query API's logic, free of gRPC types: read-only SQL (sql.py, statement.py)."""
