"""Bearer-token check for the query API, as a grpc.aio server interceptor.

With a token configured, every call must carry `authorization: Bearer <token>`; otherwise it
ends with UNAUTHENTICATED before its handler runs. Health checks and server reflection stay
open, so load balancers and grpcurl work without the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc

from driftline import telemetry
from driftline.api.status import code_label
from driftline.receiver.auth import BearerAuth

OPEN_SERVICES: Final = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
UNAUTHENTICATED_MESSAGE: Final = "missing or invalid bearer token in the authorization header"

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses calls without the configured bearer token; an empty token lets everything in."""

    def __init__(self, token: str) -> None:
        self._auth = BearerAuth(token)

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = details.method
        if not self._auth.enabled or method.startswith(OPEN_SERVICES):
            return await continuation(details)
        if self._auth.allows(_authorization(details.invocation_metadata)):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None  # unknown method: UNIMPLEMENTED, as without a token
        telemetry.QUERY_REQUESTS.labels(
            method=method.rpartition("/")[2], code=code_label(grpc.StatusCode.UNAUTHENTICATED)
        ).inc()
        return _refusal(handler)


def _authorization(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            return str(value)
    return None


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that ends the call with UNAUTHENTICATED."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, **kwargs)
    return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)
