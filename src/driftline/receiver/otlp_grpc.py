"""OTLP/gRPC receiver (grpc.aio): `Export` of the trace, metrics and logs services, plus health.

The handlers take and return raw bytes (no deserializer), so a valid request is parsed once,
by `validate.inspect`, and stored exactly as received. gzip-compressed requests are
decompressed by gRPC itself, and `grpc.max_receive_message_length` bounds the decompressed size
(RESOURCE_EXHAUSTED beyond it). Error mapping: see `status.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from driftline.config.model import OtlpReceiverConfig
from driftline.listen import bind_grpc
from driftline.processors import IngestTransform
from driftline.receiver._otlp import OTLP_SIGNALS, OtlpSignal
from driftline.receiver.auth import BearerAuth
from driftline.receiver.health import IngestHealthServicer, Probe, always_ready
from driftline.receiver.ingest import DurableLog, Ingester
from driftline.receiver.status import UNAUTHENTICATED
from driftline.receiver.validate import inspect

MIB: Final = 1 << 20
MAX_SEND_MESSAGE_BYTES: Final = 4 * MIB  # OTLP's response size limit
_CONFIG_PATH: Final = "receivers.otlp.protocols.grpc"

ExportMethod = Callable[[bytes, Any], Awaitable[bytes]]


def build_otlp_grpc_handlers(
    log: DurableLog, config: OtlpReceiverConfig, *, transform: IngestTransform | None = None
) -> list[grpc.GenericRpcHandler]:
    """Generic handlers for the three OTLP `Export` methods, for a `grpc.aio` server.
    `transform` (driftline.processors) runs on every accepted request before the WAL."""
    ingester = Ingester(log, max_attributes=config.max_attributes_per_item, transform=transform)
    auth = BearerAuth(config.auth_token)
    return [
        grpc.method_handlers_generic_handler(
            otlp.grpc_service,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    _export_method(ingester, auth, otlp),
                    request_deserializer=None,
                    response_serializer=None,
                )
            },
        )
        for otlp in OTLP_SIGNALS.values()
    ]


def _export_method(ingester: Ingester, auth: BearerAuth, otlp: OtlpSignal) -> ExportMethod:
    signal = otlp.signal
    max_attributes = ingester.max_attributes

    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if auth.enabled and not auth.allows(_authorization(context)):
            outcome = ingester.refuse(otlp, "grpc", UNAUTHENTICATED)
        else:
            outcome = await ingester.export(
                otlp,
                "grpc",
                lambda: inspect(signal, request, max_attributes),
                size=len(request),
            )
        if outcome.failure is not None:
            failure = outcome.failure
            await context.abort(
                failure.code, failure.message, trailing_metadata=failure.grpc_trailing_metadata()
            )
        inspection = outcome.inspection
        assert inspection is not None
        if not inspection.rejected and not inspection.error_message:
            return b""  # the empty Export*ServiceResponse: partial_success unset
        response = otlp.response(inspection.rejected, inspection.error_message)
        return response.SerializeToString()

    return export


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


async def start_otlp_grpc_server(
    log: DurableLog,
    config: OtlpReceiverConfig,
    health_servicer: health.aio.HealthServicer | None = None,
    *,
    transform: IngestTransform | None = None,
    ready: Probe = always_ready,
) -> tuple[grpc.aio.Server, int]:
    """Start the OTLP/gRPC server on `config.protocols.grpc.endpoint`; return it and its port.

    `grpc.health.v1.Health` is served too, with the three OTLP services SERVING. When no
    `health_servicer` is given, one is created and the overall status ("") is SERVING as well;
    a caller that passes its own decides "" itself. `ready` (e.g. `Wal.health`) turns the
    created servicer's answers to NOT_SERVING while it names a reason (receiver/health.py).
    Stop with `await server.stop(grace)`.
    """
    grpc_config = config.protocols.grpc
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", grpc_config.max_recv_msg_size_mib * MIB),
            ("grpc.max_send_message_length", MAX_SEND_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),  # never share a port with another process by accident
        ]
    )
    server.add_generic_rpc_handlers(build_otlp_grpc_handlers(log, config, transform=transform))
    services = [otlp.grpc_service for otlp in OTLP_SIGNALS.values()]
    if health_servicer is None:
        health_servicer = IngestHealthServicer(ready)
        services.append("")
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = bind_grpc(
        server, grpc_config.endpoint, grpc_config.tls, what="OTLP/gRPC", config_path=_CONFIG_PATH
    )
    for service in services:
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    await server.start()
    return server, port
