"""Readiness of the ingest path: gRPC health and `/healthz` say NOT_SERVING while the WAL
cannot take appends (its disk is full, its writer failed), SERVING again once it can.

A `Probe` is asked at every check — `Wal.health`: None while appends work, else the reason —
so nothing has to push state changes across threads. `Check` is answered from the probe on
every call; `Watch` streams only the statuses set explicitly (Kubernetes and load balancers
use `Check`). The query port keeps its own health: queries still work while ingest is full.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1 import health, health_pb2

Probe = Callable[[], str | None]


class IngestHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """`grpc.health.v1.Health` for the OTLP port: a registered SERVING service answers
    NOT_SERVING while `probe()` names a reason."""

    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self._probe = probe

    async def Check(  # the generated servicer's method name
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        response: health_pb2.HealthCheckResponse = await super().Check(request, context)
        if response.status == health_pb2.HealthCheckResponse.SERVING and self._probe():
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
        return response


def always_ready() -> str | None:
    return None
