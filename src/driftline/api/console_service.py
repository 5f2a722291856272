"""`driftline.v1.ConsoleService` (grpc.aio): the answers the web console needs beyond
QueryService (console.proto). Thin like QueryService: request → storage/console_sql.py
statement → the read-only path with the server's row and time limits → SqlResponse.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from clickhouse_connect.driver.client import Client

from driftline.api._gen.driftline.v1 import console_pb2, console_pb2_grpc, query_pb2
from driftline.api.engine import EnginePool
from driftline.api.query_service import DEFAULT_LOG_LIMIT, call_rpc, row_limit, time_limit
from driftline.api.values import sql_response
from driftline.config.model import QueryConfig
from driftline.errors import InvalidInputError
from driftline.query.sql import run_readonly_sql
from driftline.storage.console_sql import search_inferences

SERVICE_NAME = console_pb2.DESCRIPTOR.services_by_name["ConsoleService"].full_name
_WORKERS = 2


class ConsoleServicer(console_pb2_grpc.ConsoleServiceServicer):
    def __init__(
        self, config: QueryConfig, client_factory: Callable[[], Client], *, database: str
    ) -> None:
        self._config = config
        self._database = database
        self._pool = EnginePool(client_factory, workers=_WORKERS)

    def close(self) -> None:
        self._pool.close()

    async def SearchInferences(
        self, request: console_pb2.SearchInferencesRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SqlResponse:
        async def handle() -> query_pb2.SqlResponse:
            if not request.model:
                raise InvalidInputError("model is required")
            r = request.range
            limit = row_limit(request.limit or DEFAULT_LOG_LIMIT, self._config.max_rows)
            sql, params = search_inferences(
                self._database, request.model, request.version, r.start_unix_nano, r.end_unix_nano,
                request.errors_only, request.min_duration_ms, limit,
            )  # fmt: skip
            binds = {name: str(value) for name, value in params.items()}
            timeout_s = time_limit(0, self._config.max_execution_time_s, context.time_remaining())
            result = await self._pool.run(
                lambda client: run_readonly_sql(client, sql, binds, limit, timeout_s)
            )
            return sql_response(result)

        return await call_rpc("SearchInferences", context, handle)
