"""The query API server: QueryService, health, reflection, bearer auth and TLS on one port.

`start_query_server` binds `query.endpoint` (port 0 picks a free port, which it returns), marks
"" and every registered service SERVING in `grpc.health.v1.Health`, and turns on server
reflection (grpcurl can list and describe the services). Stopping the server with
`await server.stop(grace)` also waits for the ClickHouse workers and closes their clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc
from clickhouse_connect.driver.client import Client
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from driftline.api._gen.driftline.v1 import quality_pb2_grpc, query_pb2_grpc, runs_pb2_grpc
from driftline.api.auth import BearerTokenInterceptor
from driftline.api.quality_service import SERVICE_NAME as QUALITY_SERVICE_NAME
from driftline.api.quality_service import QualityServicer
from driftline.api.query_service import SERVICE_NAME, QueryServicer
from driftline.config.model import QueryConfig, RunsConfig, SloConfig
from driftline.listen import bind_grpc
from driftline.receiver.ingest import DurableLog

MIB: Final = 1 << 20
MAX_RECEIVE_MESSAGE_BYTES: Final = 4 * MIB  # requests are SQL text and a few parameters
_CONFIG_PATH: Final = "query"


@dataclass(frozen=True, slots=True)
class ExtraService:
    """Another service on the query port: its full name (for health and reflection) and the
    function that adds its servicer, e.g. `lambda s: add_FooServicer_to_server(Foo(), s)`."""

    name: str
    add_to_server: Callable[[grpc.aio.Server], None]


async def start_query_server(
    config: QueryConfig,
    client_factory: Callable[[], Client],
    extra_servicers: Iterable[ExtraService] = (),
    *,
    label_log: DurableLog | None = None,
    database: str = "default",
    slos: Sequence[SloConfig] = (),
    runs: RunsConfig | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Start the query API on `config.endpoint`; return the server and its bound port."""
    server = grpc.aio.server(
        interceptors=[BearerTokenInterceptor(config.auth_token)],
        options=[
            ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),  # never share a port with another process by accident
        ],
    )
    servicer = QueryServicer(
        config, client_factory, label_log=label_log, database=database, slos=slos
    )
    query_pb2_grpc.add_QueryServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    names = [SERVICE_NAME]
    # RunService (runs.proto) shares the port, the token and the engine with QueryService.
    from driftline.api.run_service import SERVICE_NAME as RUN_SERVICE_NAME
    from driftline.api.run_service import RunServicer

    run_servicer = RunServicer(config, runs or RunsConfig(), client_factory, database=database)
    runs_pb2_grpc.add_RunServiceServicer_to_server(run_servicer, server)  # type: ignore[no-untyped-call]
    names.append(RUN_SERVICE_NAME)
    # QualityService (quality.proto): data quality and multivariate drift, same port and token.
    quality_servicer = QualityServicer(config, client_factory, database=database)
    quality_pb2_grpc.add_QualityServiceServicer_to_server(quality_servicer, server)  # type: ignore[no-untyped-call]
    names.append(QUALITY_SERVICE_NAME)
    # ConsoleService (console.proto): the web console's extra questions, same port and token.
    from driftline.api._gen.driftline.v1 import console_pb2_grpc
    from driftline.api.console_service import SERVICE_NAME as CONSOLE_SERVICE_NAME
    from driftline.api.console_service import ConsoleServicer

    console_servicer = ConsoleServicer(config, client_factory, database=database)
    console_pb2_grpc.add_ConsoleServiceServicer_to_server(console_servicer, server)  # type: ignore[no-untyped-call]
    names.append(CONSOLE_SERVICE_NAME)
    for extra in extra_servicers:
        extra.add_to_server(server)
        names.append(extra.name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    try:
        port = bind_grpc(
            server, config.endpoint, config.tls, what="query API", config_path=_CONFIG_PATH
        )
    except BaseException:
        servicer.close()
        run_servicer.close()
        quality_servicer.close()
        console_servicer.close()
        raise
    _close_with(server, servicer, run_servicer, quality_servicer, console_servicer)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    return server, port


def _close_with(server: grpc.aio.Server, *servicers: Any) -> None:
    """Make `server.stop()` close the servicers' worker pools once the RPCs are done."""
    stop = server.stop

    async def stop_and_close(grace: float | None) -> Any:
        try:
            return await stop(grace)
        finally:
            for servicer in servicers:
                await asyncio.to_thread(servicer.close)

    server.stop = stop_and_close
