"""`driftline.v1.QueryService` (grpc.aio): thin handlers, request → query/ → response.

Each RPC is a method here that turns its request into plain arguments, runs the query/ function
on an `EnginePool` worker (ClickHouse calls block), and builds the response; `call_rpc` maps errors
to status codes (status.py) and counts every call in QUERY_REQUESTS. A new RPC adds a method,
its query/ function and, if it needs one, a response builder module next to values.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from clickhouse_connect.driver.client import Client

from driftline import telemetry
from driftline.api import monitor_service as monitor
from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc
from driftline.api.engine import DEFAULT_WORKERS, EnginePool
from driftline.api.labels import labels_request
from driftline.api.status import code_label, status_for
from driftline.api.values import sql_response
from driftline.config.model import QueryConfig, SloConfig
from driftline.errors import InvalidInputError, NotFoundError
from driftline.query.sql import SqlTimeoutError, run_readonly_sql
from driftline.receiver.ingest import DurableLog
from driftline.signals import Signal
from driftline.storage import explore_sql
from driftline.storage.bind import Statement

SERVICE_NAME = query_pb2.DESCRIPTOR.services_by_name["QueryService"].full_name

R = TypeVar("R")


class QueryServicer(query_pb2_grpc.QueryServiceServicer):
    def __init__(
        self,
        config: QueryConfig,
        client_factory: Callable[[], Client],
        *,
        workers: int = DEFAULT_WORKERS,
        label_log: DurableLog | None = None,
        database: str = "default",
        slos: Sequence[SloConfig] = (),
    ) -> None:
        self._config = config
        self._database = database
        self._slos = tuple(slos)
        self._pool = EnginePool(client_factory, workers=workers)
        self._label_log = label_log

    def close(self) -> None:
        """Wait for running statements, then close the ClickHouse clients."""
        self._pool.close()

    async def Sql(
        self, request: query_pb2.SqlRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SqlResponse:
        async def handle() -> query_pb2.SqlResponse:
            max_rows = row_limit(request.max_rows, self._config.max_rows)
            timeout_s = time_limit(
                request.timeout_seconds, self._config.max_execution_time_s, context.time_remaining()
            )
            sql, parameters = request.sql, dict(request.parameters)
            result = await self._pool.run(
                lambda client: run_readonly_sql(client, sql, parameters, max_rows, timeout_s)
            )
            return sql_response(result)

        return await call_rpc("Sql", context, handle)

    async def _table(
        self, method: str, context: grpc.aio.ServicerContext, statement: Statement
    ) -> query_pb2.SqlResponse:
        """Run one of our own statements through the read-only path (same limits as Sql)."""

        async def handle() -> query_pb2.SqlResponse:
            sql, params = statement
            binds = {name: str(value) for name, value in params.items()}
            timeout_s = time_limit(0, self._config.max_execution_time_s, context.time_remaining())
            max_rows = self._config.max_rows
            result = await self._pool.run(
                lambda client: run_readonly_sql(client, sql, binds, max_rows, timeout_s)
            )
            if method == "GetTrace" and not result.rows:
                raise NotFoundError(f"no spans stored for trace {binds['trace_id']}")
            return sql_response(result)

        return await call_rpc(method, context, handle)

    async def ListModels(
        self, request: query_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SqlResponse:
        r = request.range
        return await self._table(
            "ListModels",
            context,
            explore_sql.list_models(self._database, r.start_unix_nano, r.end_unix_nano),
        )

    async def GetTrace(
        self, request: query_pb2.GetTraceRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SqlResponse:
        trace_id = request.trace_id.strip().lower()
        if len(trace_id) != 32 or not all(c in "0123456789abcdef" for c in trace_id):
            return await call_rpc("GetTrace", context, _invalid("trace_id must be 32 hex digits"))
        return await self._table(
            "GetTrace", context, explore_sql.get_trace(self._database, trace_id)
        )

    async def SearchLogs(
        self, request: query_pb2.SearchLogsRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SqlResponse:
        r = request.range
        limit = row_limit(request.limit or DEFAULT_LOG_LIMIT, self._config.max_rows)
        statement = explore_sql.search_logs(
            self._database, r.start_unix_nano, r.end_unix_nano, request.min_severity_number,
            request.service_name, request.trace_id.strip(), request.text, limit,
        )  # fmt: skip
        return await self._table("SearchLogs", context, statement)

    async def RecordLabels(
        self, request: query_pb2.RecordLabelsRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.RecordLabelsResponse:
        async def handle() -> query_pb2.RecordLabelsResponse:
            if self._label_log is None:
                raise InvalidInputError("this server does not accept labels (no WAL attached)")
            payload = labels_request(request.labels)
            await asyncio.wrap_future(self._label_log.submit(int(Signal.LOGS), payload))
            return query_pb2.RecordLabelsResponse(accepted=len(request.labels))

        return await call_rpc("RecordLabels", context, handle)

    async def _monitor(
        self, method: str, context: grpc.aio.ServicerContext, answer: Callable[[Client], R]
    ) -> R:
        async def handle() -> R:
            return await self._pool.run(answer)

        return await call_rpc(method, context, handle)

    async def GetLatency(
        self, request: query_pb2.GetLatencyRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.GetLatencyResponse:
        return await self._monitor(
            "GetLatency",
            context,
            lambda c: monitor.latency_answer(c, self._database, request, self._slos),
        )

    async def GetDrift(
        self, request: query_pb2.GetDriftRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.GetDriftResponse:
        return await self._monitor(
            "GetDrift", context, lambda c: monitor.drift_answer(c, self._database, request)
        )

    async def SaveReference(
        self, request: query_pb2.SaveReferenceRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.SavedReference:
        return await self._monitor(
            "SaveReference",
            context,
            lambda c: monitor.save_reference_answer(c, self._database, request),
        )

    async def ListReferences(
        self, request: query_pb2.ListReferencesRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.ListReferencesResponse:
        return await self._monitor(
            "ListReferences",
            context,
            lambda c: monitor.list_references_answer(c, self._database, request),
        )

    async def GetPerformance(
        self, request: query_pb2.GetPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.GetPerformanceResponse:
        return await self._monitor(
            "GetPerformance",
            context,
            lambda c: monitor.performance_answer(c, self._database, request),
        )


DEFAULT_LOG_LIMIT = 100


def _invalid(message: str) -> Callable[[], Awaitable[query_pb2.SqlResponse]]:
    async def handle() -> query_pb2.SqlResponse:
        raise InvalidInputError(message)

    return handle


def row_limit(requested: int, server_max: int) -> int:
    """0 means the server's limit; more than it is capped to it."""
    return server_max if requested <= 0 else min(requested, server_max)


def time_limit(requested_s: float, server_max_s: float, remaining_s: float | None) -> float:
    """The statement's time limit: the request's (0 = the server's), capped by the server's
    maximum and by what is left of the caller's gRPC deadline."""
    limit = server_max_s
    if math.isfinite(requested_s) and requested_s > 0:
        limit = min(limit, requested_s)
    if remaining_s is not None:
        if remaining_s <= 0:
            raise SqlTimeoutError("the call's deadline passed before the statement started")
        limit = min(limit, remaining_s)
    return limit


async def call_rpc(
    method: str, context: grpc.aio.ServicerContext, handle: Callable[[], Awaitable[R]]
) -> R:
    try:
        response = await handle()
    except Exception as exc:
        code, message = status_for(exc)
        telemetry.QUERY_REQUESTS.labels(method=method, code=code_label(code)).inc()
        await context.abort(code, message)
        raise AssertionError("context.abort returned") from exc  # abort always raises
    telemetry.QUERY_REQUESTS.labels(method=method, code=code_label(grpc.StatusCode.OK)).inc()
    return response
