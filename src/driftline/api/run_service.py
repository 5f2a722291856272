"""`driftline.v1.RunService` (grpc.aio): ListRuns, GetRun, CompareRuns, GetRunMetrics.

Thin like QueryService: each RPC runs a query/runs.py function on its own EnginePool worker,
with the server's statement time limit, and maps the dataclasses to protos. Errors go through
status.py (FilterError → INVALID_ARGUMENT with position and reason, unknown run → NOT_FOUND).
`run_service(...)` is the ExtraService that start_query_server registers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import grpc
from clickhouse_connect.driver.client import Client

from driftline.api._gen.driftline.v1 import runs_pb2, runs_pb2_grpc
from driftline.api.engine import EnginePool
from driftline.api.query_service import call_rpc, time_limit
from driftline.config.model import QueryConfig, RunsConfig
from driftline.errors import InvalidInputError
from driftline.query import runs as runs_query

SERVICE_NAME = runs_pb2.DESCRIPTOR.services_by_name["RunService"].full_name
R = TypeVar("R")
_WORKERS = 2
DEFAULT_LOG_LIMIT = 1000


def run_message(info: runs_query.RunInfo, *, full: bool) -> runs_pb2.Run:
    message = runs_pb2.Run(
        run_id=info.run_id, experiment=info.experiment, run_name=info.run_name,
        user_id=info.user_id, status=info.status, start_time_unix_nano=info.start_ns,
        end_time_unix_nano=info.end_ns, last_seen_unix_nano=info.last_seen_ns,
        params=info.params, tags=info.tags, attributes=info.attributes,
    )  # fmt: skip
    for key, m in info.metrics.items():
        if full:
            summary = runs_pb2.MetricSummary(
                latest=m.latest, latest_step=m.latest_step, min=m.min, max=m.max,
                points=m.points, last_timestamp_unix_nano=m.last_timestamp_ns,
            )  # fmt: skip
            message.metrics[key].CopyFrom(summary)
        else:
            message.metrics[key].latest = m.latest
    message.artifacts.extend(
        runs_pb2.Artifact(
            uri=a.uri, path=a.path, size=a.size, sha256=a.sha256, timestamp_unix_nano=a.timestamp_ns
        )
        for a in info.artifacts
    )
    return message


class RunServicer(runs_pb2_grpc.RunServiceServicer):
    def __init__(
        self,
        config: QueryConfig,
        runs: RunsConfig,
        client_factory: Callable[[], Client],
        *,
        database: str = "default",
    ) -> None:
        self._config = config
        self._runs = runs
        self._database = database
        self._pool = EnginePool(client_factory, workers=_WORKERS)

    def close(self) -> None:
        self._pool.close()

    async def _answer(
        self, method: str, context: grpc.aio.ServicerContext, work: Callable[[Client, float], R]
    ) -> R:
        async def handle() -> R:
            timeout_s = time_limit(0, self._config.max_execution_time_s, context.time_remaining())
            return await self._pool.run(lambda client: work(client, timeout_s))

        return await call_rpc(method, context, handle)

    async def ListRuns(
        self, request: runs_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.ListRunsResponse:
        def work(client: Client, timeout_s: float) -> runs_pb2.ListRunsResponse:
            found, next_token = runs_query.list_runs_page(
                client, self._database, experiments=list(request.experiments),
                filter_string=request.filter, order_by=list(request.order_by),
                max_results=request.max_results, page_token=request.page_token,
                now_ns=time.time_ns(), heartbeat_timeout_s=self._runs.heartbeat_timeout_s,
                timeout_s=timeout_s,
            )  # fmt: skip
            return runs_pb2.ListRunsResponse(
                runs=[run_message(r, full=False) for r in found], next_page_token=next_token
            )

        return await self._answer("ListRuns", context, work)

    def _get(self, client: Client, ids: list[str], timeout_s: float) -> list[runs_pb2.Run]:
        found = runs_query.get_runs(
            client, self._database, ids, now_ns=time.time_ns(),
            heartbeat_timeout_s=self._runs.heartbeat_timeout_s, timeout_s=timeout_s,
        )  # fmt: skip
        return [run_message(r, full=True) for r in found]

    async def GetRun(
        self, request: runs_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.Run:
        def work(client: Client, timeout_s: float) -> runs_pb2.Run:
            if not request.run_id.strip():
                raise InvalidInputError("run_id is required")
            return self._get(client, [request.run_id], timeout_s)[0]

        return await self._answer("GetRun", context, work)

    async def CompareRuns(
        self, request: runs_pb2.CompareRunsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.CompareRunsResponse:
        def work(client: Client, timeout_s: float) -> runs_pb2.CompareRunsResponse:
            if len(request.run_ids) < 1:
                raise InvalidInputError("run_ids: name at least one run")
            return runs_pb2.CompareRunsResponse(
                runs=self._get(client, list(request.run_ids), timeout_s)
            )

        return await self._answer("CompareRuns", context, work)

    async def GetRunMetrics(
        self, request: runs_pb2.GetRunMetricsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.GetRunMetricsResponse:
        def work(client: Client, timeout_s: float) -> runs_pb2.GetRunMetricsResponse:
            if not request.run_id.strip():
                raise InvalidInputError("run_id is required")
            history = runs_query.metric_history(
                client, self._database, request.run_id, list(request.keys),
                min_step=request.min_step if request.HasField("min_step") else None,
                max_step=request.max_step if request.HasField("max_step") else None,
                max_points=request.max_points, timeout_s=timeout_s,
            )  # fmt: skip
            response = runs_pb2.GetRunMetricsResponse(run_id=request.run_id.strip())
            for key, series in history.items():
                response.metrics.add(
                    key=key,
                    steps=series.steps,
                    timestamps_unix_nano=series.timestamps_ns,
                    values=series.values,
                )
            return response

        return await self._answer("GetRunMetrics", context, work)

    async def GetRunLogs(
        self, request: runs_pb2.GetRunLogsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.GetRunLogsResponse:
        def work(client: Client, timeout_s: float) -> runs_pb2.GetRunLogsResponse:
            if not request.run_id.strip():
                raise InvalidInputError("run_id is required")
            limit = min(request.limit or DEFAULT_LOG_LIMIT, self._config.max_rows)
            lines, truncated = runs_query.run_logs(
                client, self._database, request.run_id, limit=limit,
                min_severity=request.min_severity_number, timeout_s=timeout_s,
            )  # fmt: skip
            return runs_pb2.GetRunLogsResponse(
                run_id=request.run_id.strip(),
                truncated=truncated,
                records=[
                    runs_pb2.RunLogRecord(
                        timestamp_unix_nano=x.timestamp_ns,
                        severity_text=x.severity_text,
                        severity_number=x.severity_number,
                        body=x.body,
                        logger=x.logger,
                    )
                    for x in lines
                ],
            )

        return await self._answer("GetRunLogs", context, work)
