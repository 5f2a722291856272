"""Network listeners as lifecycle components.

Each takes the function that binds and starts its server (so a bind failure surfaces from
`start()` and leaves nothing behind) and knows how that kind of server stops: gRPC servers
finish in-flight RPCs within the grace period, the aiohttp runner closes its sites, the
/metrics server stops serving, joins its thread and unregisters its collectors.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from wsgiref.simple_server import WSGIServer

import grpc
from aiohttp import web
from prometheus_client import start_http_server
from prometheus_client.registry import Collector, CollectorRegistry

from driftline.errors import ListenError


class GrpcServer:
    def __init__(self, serve: Callable[[], Awaitable[tuple[grpc.aio.Server, int]]]) -> None:
        self._serve = serve
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server, self.port = await self._serve()

    async def shutdown(self, grace_s: float) -> None:
        if self._server is not None:
            await self._server.stop(grace_s)


class HttpRunner:
    def __init__(self, serve: Callable[[], Awaitable[tuple[web.AppRunner, int]]]) -> None:
        self._serve = serve
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._runner, self.port = await self._serve()

    async def shutdown(self, grace_s: float) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class MetricsServer:
    """Prometheus `/metrics` on `host:port` (port 0: any free one) over `registry`, with
    `collectors` registered for exactly as long as it runs."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, collectors: Sequence[Collector]
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._collectors = list(collectors)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        for collector in self._collectors:
            self._registry.register(collector)
        try:
            self._server, self._thread = start_http_server(
                self._port, addr=self._host, registry=self._registry
            )
        except OSError as exc:
            self._unregister()
            endpoint = f"{self._host}:{self._port}"
            raise ListenError(
                "Prometheus /metrics", endpoint, "telemetry.metrics_endpoint", str(exc)
            ) from exc
        except BaseException:
            self._unregister()
            raise
        self.port = self._server.server_port

    def shutdown(self, grace_s: float) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(max(grace_s, 1.0))
        self._unregister()

    def _unregister(self) -> None:
        for collector in self._collectors:
            with contextlib.suppress(KeyError):  # never registered
                self._registry.unregister(collector)
