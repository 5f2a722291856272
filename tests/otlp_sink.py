"""An in-process OTLP receiver for forwarding tests: counts precisely, fails on request.

A grpc.aio server (TraceService, MetricsService, LogsService Export) and an aiohttp server
(`POST /v1/traces|metrics|logs`, protobuf) run on one event loop in a background thread, so
synchronous tests can drive them. Every request is decoded and remembered: its arrival time,
its items, its span ids. Answers are scripted: `script(Answer(...), ...)` queues answers for
the next requests (a gRPC code, with or without RetryInfo; an HTTP status with Retry-After; a
partial success); with the script empty the sink accepts. `stop()` and `start()` again on the
same port simulate a downstream outage.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from driftline.export.otlp.encode.shapes import BY_NAME, SHAPES, count_items
from driftline.signals import Signal


@dataclass(frozen=True)
class Answer:
    """How to answer one request. Default: full success."""

    code: grpc.StatusCode | None = None  # gRPC failure
    retry_delay_s: float | None = None  # with RetryInfo (gRPC) / Retry-After (HTTP)
    http_status: int | None = None  # HTTP failure
    rejected: int = 0  # partial success
    message: str = ""


@dataclass
class Received:
    signal: Signal
    transport: str
    at: float  # time.monotonic()
    items: int
    span_ids: list[bytes] = field(default_factory=list)
    request: Message | None = None
    answered: str = "ok"


class OtlpSink:
    def __init__(self, keep_requests: bool = False, tls: tuple[Path, Path] | None = None) -> None:
        self.keep_requests = keep_requests
        self.tls = tls  # (cert_file, key_file): serve both ports over TLS
        self.received: list[Received] = []
        self.headers: list[dict[str, str]] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._grpc: grpc.aio.Server | None = None
        self._http: web.AppRunner | None = None
        self.grpc_port = 0
        self.http_port = 0

    # ---- control -----------------------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(30)

    def start(self, grpc_port: int | None = None, http_port: int | None = None) -> OtlpSink:
        self._run(self._start(self.grpc_port if grpc_port is None else grpc_port,
                              self.http_port if http_port is None else http_port))  # fmt: skip
        return self

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # ---- what arrived ------------------------------------------------------------------------

    def items(self, signal: Signal = Signal.TRACES, accepted_only: bool = True) -> int:
        with self._lock:
            return sum(
                r.items
                for r in self.received
                if r.signal is signal and (r.answered == "ok" or not accepted_only)
            )

    def span_ids(self, accepted_only: bool = True) -> Counter[bytes]:
        with self._lock:
            return Counter(
                i for r in self.received if r.answered == "ok" or not accepted_only
                for i in r.span_ids
            )  # fmt: skip

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_items(self, n: int, signal: Signal = Signal.TRACES, timeout_s: float = 30.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.items(signal)
            if got >= n:
                return got
            time.sleep(0.02)
        return self.items(signal)

    # ---- serving -----------------------------------------------------------------------------

    def _take(self, signal: Signal, body: bytes, transport: str) -> tuple[Answer, Received]:
        request = SHAPES[signal].request.FromString(body)
        ids = []
        if signal is Signal.TRACES:
            ids = [s.span_id for rs in request.resource_spans for ss in rs.scope_spans
                   for s in ss.spans]  # fmt: skip
        rec = Received(
            signal, transport, time.monotonic(), count_items(signal, request), ids,
            request if self.keep_requests else None,
        )  # fmt: skip
        with self._lock:
            answer = self._script.pop(0) if self._script else Answer()
            failed = answer.code is not None or answer.http_status is not None
            rec.answered = "failed" if failed else "ok"
            self.received.append(rec)
        return answer, rec

    def _response(self, signal: Signal, answer: Answer) -> bytes:
        response = SHAPES[signal].response()
        if answer.rejected or answer.message:
            partial = response.partial_success  # type: ignore[attr-defined]
            setattr(partial, SHAPES[signal].rejected_field, answer.rejected)
            partial.error_message = answer.message
        return response.SerializeToString()

    def _grpc_handler(self, signal: Signal) -> grpc.RpcMethodHandler:
        async def export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.headers.append({k: str(v) for k, v in context.invocation_metadata() or ()})
            answer, _ = self._take(signal, body, "grpc")
            if answer.code is not None:
                status = status_pb2.Status(
                    code=getattr(code_pb2, answer.code.name), message="scripted failure"
                )
                if answer.retry_delay_s is not None:
                    info = error_details_pb2.RetryInfo(
                        retry_delay=duration_pb2.Duration(
                            seconds=int(answer.retry_delay_s),
                            nanos=int((answer.retry_delay_s % 1) * 1e9),
                        )
                    )
                    status.details.add().Pack(info)
                await context.abort_with_status(rpc_status.to_status(status))
            return self._response(signal, answer)

        return grpc.unary_unary_rpc_method_handler(
            export, request_deserializer=None, response_serializer=None
        )

    async def _http_handler(self, request: web.Request) -> web.Response:
        signal = BY_NAME[request.match_info["signal"]].signal
        self.headers.append(dict(request.headers))
        body = await request.read()  # aiohttp undoes Content-Encoding: gzip
        answer, _ = self._take(signal, body, "http")
        if answer.http_status is not None:
            headers = {}
            if answer.retry_delay_s is not None:
                headers["Retry-After"] = str(int(answer.retry_delay_s))
            return web.Response(status=answer.http_status, headers=headers, body=b"scripted")
        return web.Response(
            body=self._response(signal, answer), content_type="application/x-protobuf"
        )

    async def _start(self, grpc_port: int, http_port: int) -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 << 20)])
        for signal, shape in SHAPES.items():
            _, service, method = shape.grpc_method.split("/")
            handler = {method: self._grpc_handler(signal)}
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, handler),)
            )
        address = f"127.0.0.1:{grpc_port}"
        context = None
        if self.tls is None:
            self.grpc_port = server.add_insecure_port(address)
        else:
            cert, key = (p.read_bytes() for p in self.tls)
            creds = grpc.ssl_server_credentials([(key, cert)])
            self.grpc_port = server.add_secure_port(address, creds)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        await server.start()
        self._grpc = server
        app = web.Application(client_max_size=256 << 20)
        app.router.add_post("/v1/{signal}", self._http_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", http_port, reuse_address=True, ssl_context=context)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._http = runner

    async def _stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(0)
            self._grpc = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
