"""OTLP/HTTP receiver (aiohttp): POST /v1/traces, /v1/metrics, /v1/logs, and GET /healthz.

- `Content-Type` chooses the encoding, `application/x-protobuf` or `application/json`; the
  response (including a `google.rpc.Status` error body) uses the request's. Anything else: 415.
- `Content-Encoding` `gzip` (or `deflate`, `identity`) is decoded here, never by aiohttp, by a
  bounded `zlib.decompressobj`: a body that inflates past `max_request_body_size_mib` is
  answered 413 after at most that many bytes were produced. A raw body over the limit: 413 too.
- Errors map as in `status.py`: 400, 401, 413, 503 + `Retry-After`.
- Slow or huge uploads are bounded (#16.5): a body must arrive within `body_read_timeout`
  (408 and the connection closed otherwise), and the bytes being read at once over all
  connections (declared Content-Length, else the body limit) stay under `max_in_flight_mib`:
  past it a request gets 503 + Retry-After before its body is read, so memory stays bounded
  and is released when the requests end.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import hdrs, web
from google.protobuf.message import Message

from driftline.config.model import OtlpReceiverConfig, TLSConfig
from driftline.errors import (
    ConfigError,
    InvalidInputError,
    ListenError,
    RetryableError,
    TooLargeError,
)
from driftline.processors import IngestTransform
from driftline.receiver import otlp_json
from driftline.receiver._otlp import OTLP_SIGNALS, OtlpSignal
from driftline.receiver.auth import BearerAuth
from driftline.receiver.health import Probe, always_ready
from driftline.receiver.ingest import DurableLog, Ingester
from driftline.receiver.status import UNAUTHENTICATED, Failure, classify
from driftline.receiver.validate import Inspection, inspect, inspect_message
from driftline.signals import Signal

MIB: Final = 1 << 20
PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
# zlib `wbits` per accepted Content-Encoding (None: the body is not compressed).
_ENCODINGS: Final[dict[str, int | None]] = {
    "identity": None,
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,
}
# A compressed body may inflate this much; used only to decide whether to decode off the loop.
_INFLATION_GUESS: Final = 8
_CONFIG_PATH: Final = "receivers.otlp.protocols.http"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_otlp_http_app(
    log: DurableLog,
    config: OtlpReceiverConfig,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    *,
    transform: IngestTransform | None = None,
    ready: Probe = always_ready,
) -> web.Application:
    """The OTLP/HTTP application. Run it with `auto_decompress=False` on the runner (as
    `start_otlp_http_server` does): this app decodes Content-Encoding itself, with a bound.
    `transform` (driftline.processors) runs on every accepted request before the WAL."""
    limit = config.protocols.http.max_request_body_size_mib * MIB
    app = web.Application(client_max_size=limit)
    ingester = Ingester(log, max_attributes=config.max_attributes_per_item, transform=transform)
    auth = BearerAuth(config.auth_token)
    http = config.protocols.http
    budget = _InFlight(http.max_in_flight_mib * MIB)
    for otlp in OTLP_SIGNALS.values():
        handler = _export_handler(
            ingester, auth, otlp, limit, budget=budget, read_timeout_s=http.body_read_timeout_s
        )
        app.router.add_post(otlp.http_path, handler)
    app.router.add_get("/healthz", functools.partial(_healthz, ready))
    app.router.add_routes(list(extra_routes))
    return app


async def start_otlp_http_server(
    log: DurableLog,
    config: OtlpReceiverConfig,
    extra_routes: Iterable[web.AbstractRouteDef] = (),
    *,
    transform: IngestTransform | None = None,
    ready: Probe = always_ready,
) -> tuple[web.AppRunner, int]:
    """Serve OTLP/HTTP on `config.protocols.http.endpoint`; return the runner and bound port.

    Stop with `await runner.cleanup()`.
    """
    http_config = config.protocols.http
    ssl_context = _ssl_context(http_config.tls) if http_config.tls.enabled else None
    host, port = _split_endpoint(http_config.endpoint)
    app = build_otlp_http_app(log, config, extra_routes, transform=transform, ready=ready)
    runner = web.AppRunner(app, auto_decompress=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_port=False)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(
            "OTLP/HTTP", http_config.endpoint, "receivers.otlp.protocols.http.endpoint", str(exc)
        ) from exc
    return runner, int(runner.addresses[0][1])


class _InFlight:
    """Request bytes being read right now, over every connection (event loop only)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0


def _export_handler(
    ingester: Ingester,
    auth: BearerAuth,
    otlp: OtlpSignal,
    limit: int,
    *,
    budget: _InFlight,
    read_timeout_s: float,
) -> Handler:
    signal = otlp.signal
    max_attributes = ingester.max_attributes

    async def export(request: web.Request) -> web.Response:
        media = request.content_type
        as_json = media == JSON
        if auth.enabled and not auth.allows(request.headers.get(hdrs.AUTHORIZATION)):
            return _failure(ingester.refuse(otlp, "http", UNAUTHENTICATED).failure, as_json)
        if media not in (PROTOBUF, JSON):
            unsupported = f"unsupported Content-Type {media!r}: use {PROTOBUF} or {JSON}"
            return _unsupported(ingester, otlp, unsupported)
        encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if encoding not in _ENCODINGS:
            unsupported = f"unsupported Content-Encoding {encoding!r}: use gzip or identity"
            return _unsupported(ingester, otlp, unsupported)
        declared = request.content_length
        if declared is not None and declared > limit:
            return _too_large(ingester, otlp, as_json, limit)
        reserve = declared if declared is not None else limit
        if budget.used + reserve > budget.cap:
            busy = RetryableError("too many request bytes in flight; retry later", delay_s=1.0)
            return _failure(ingester.refuse(otlp, "http", classify(busy)).failure, as_json)
        budget.used += reserve
        try:
            body = await asyncio.wait_for(request.read(), read_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return _too_large(ingester, otlp, as_json, limit)
        except TimeoutError:
            response = web.Response(status=408, text="the request body did not arrive in time")
            response.force_close()
            return response
        finally:
            budget.used -= reserve
        decode = functools.partial(
            _decode, signal, body, encoding, as_json, limit=limit, max_attributes=max_attributes
        )
        size = len(body) * (1 if _ENCODINGS[encoding] is None else _INFLATION_GUESS)
        outcome = await ingester.export(otlp, "http", decode, size=size)
        if outcome.failure is not None:
            return _failure(outcome.failure, as_json)
        inspection = outcome.inspection
        assert inspection is not None
        return _message(200, otlp.response(inspection.rejected, inspection.error_message), as_json)

    return export


def _decode(
    signal: Signal, body: bytes, encoding: str, as_json: bool, *, limit: int, max_attributes: int
) -> Inspection:
    data = decompress(body, encoding, limit)
    if as_json:
        return inspect_message(signal, otlp_json.parse(signal, data), max_attributes)
    return inspect(signal, data, max_attributes)


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo `Content-Encoding`, producing at most `limit` bytes (TooLargeError beyond that).

    Memory stays within about `limit` bytes whatever the compression ratio: zlib is asked for at
    most `limit + 1` bytes of output in total. Concatenated gzip members are accepted.
    """
    wbits = _ENCODINGS[encoding]
    if wbits is None:
        if len(body) > limit:
            raise TooLargeError(f"the request body exceeds {limit} bytes")
        return body
    out = bytearray()
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits=wbits)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise InvalidInputError(f"the body is not valid {encoding} data: {exc}") from None
        if len(out) > limit:
            raise TooLargeError(f"the decompressed request body exceeds {limit} bytes")
        if not inflater.eof:
            raise InvalidInputError(f"the {encoding} body is truncated")
        rest = inflater.unused_data
    return bytes(out)


async def _healthz(ready: Probe, _request: web.Request) -> web.Response:
    reason = ready()
    if reason is not None:  # e.g. the WAL's disk is full: ingest answers 503 until it is not
        return web.Response(status=503, text=f"not ready: {reason}\n")
    return web.Response(text="ok")


def _message(status: int, message: Message, as_json: bool) -> web.Response:
    if as_json:
        body = otlp_json.to_json(message).encode()
        return web.Response(status=status, body=body, content_type=JSON)
    return web.Response(status=status, body=message.SerializeToString(), content_type=PROTOBUF)


def _failure(failure: Failure | None, as_json: bool) -> web.Response:
    assert failure is not None
    response = _message(failure.http_status, failure.to_status(), as_json)
    retry_after = failure.retry_after_header
    if retry_after is not None:
        response.headers[hdrs.RETRY_AFTER] = retry_after
    return response


def _too_large(ingester: Ingester, otlp: OtlpSignal, as_json: bool, limit: int) -> web.Response:
    failure = classify(TooLargeError(f"the request body exceeds {limit} bytes"))
    return _failure(ingester.refuse(otlp, "http", failure).failure, as_json)


def _unsupported(ingester: Ingester, otlp: OtlpSignal, message: str) -> web.Response:
    ingester.refuse(otlp, "http", classify(InvalidInputError(message)))
    return web.Response(status=415, text=message)


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file:
            context.load_verify_locations(cafile=tls.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([f"{_CONFIG_PATH}.tls: cannot load the certificates: {exc}"]) from None
    return context
