"""The path every accepted request takes, whatever its transport: decode → check → durable.

The receivers hand each request to a `DurableLog` (the WAL) and answer only once the returned
future resolves, so an OK always means "on disk". What is stored is the serialized protobuf
Export*ServiceRequest; on the hot path (gRPC, nothing invalid) those are the received bytes.

An optional ingest transform (driftline.processors: redaction, enrichment with `apply_to: both`)
runs after validation and before the WAL; the request is re-serialized only when it reports a
change. Without one, nothing differs from the path above.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from driftline import telemetry
from driftline.processors import IngestTransform
from driftline.receiver._otlp import OtlpSignal
from driftline.receiver.status import Failure, classify
from driftline.receiver.validate import Inspection, parse_request
from driftline.signals import Signal

_log = logging.getLogger(__name__)

# Decoding a request larger than this runs in a worker thread, so that one huge request does
# not stall every other connection of the event loop for the whole parse.
INLINE_DECODE_MAX_BYTES: Final = 1 << 20
# With a transform, decoding also walks every attribute: a lower bound keeps the loop responsive.
INLINE_TRANSFORM_MAX_BYTES: Final = 64 << 10

Transport = Literal["grpc", "http"]


class DurableLog(Protocol):
    def submit(self, kind: int, payload: bytes) -> concurrent.futures.Future[int]:
        """kind = int(Signal). Returns a future resolved (with a record id) once the payload is
        durable. Raises driftline.errors.WalFullError (has .delay_s) synchronously for
        backpressure."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """Either an inspection (full or partial success: the kept items are durable) or a failure."""

    inspection: Inspection | None = None
    failure: Failure | None = None


class Ingester:
    """Shared by the gRPC and HTTP receivers; records the receiver metrics."""

    __slots__ = ("_inline_max", "_log", "_transform", "max_attributes")

    def __init__(
        self, log: DurableLog, *, max_attributes: int, transform: IngestTransform | None = None
    ) -> None:
        self._log = log
        self.max_attributes = max_attributes
        self._transform = transform
        self._inline_max = (
            INLINE_DECODE_MAX_BYTES if transform is None else INLINE_TRANSFORM_MAX_BYTES
        )

    async def export(
        self,
        otlp: OtlpSignal,
        transport: Transport,
        decode: Callable[[], Inspection],
        *,
        size: int,
    ) -> Outcome:
        """Run `decode` (which may raise driftline errors), then make the kept items durable."""
        started = time.perf_counter()
        inspection: Inspection | None = None
        if self._transform is not None:
            decode = functools.partial(_transformed, decode, otlp.signal, self._transform)
        try:
            if size > self._inline_max:
                inspection = await asyncio.to_thread(decode)
            else:
                inspection = decode()
            if inspection.request is not None:
                # The parsed message is not needed past here: free it before the WAL wait.
                inspection = dataclasses.replace(inspection, request=None)
            if inspection.accepted:
                future = self._log.submit(int(otlp.signal), inspection.payload)
                # shield: a client hanging up must not cancel the WAL's own future.
                await asyncio.shield(asyncio.wrap_future(future))
        except Exception as exc:
            failure = classify(exc)
            if failure.reason == "internal":
                _log.exception("%s %s export failed; answering UNAVAILABLE", transport, otlp.label)
            lost = inspection.accepted if inspection is not None else 0
            return self._refused(otlp, transport, failure, started, lost)
        code = "partial" if inspection.rejected or inspection.error_message else "ok"
        telemetry.RECEIVER_ACCEPTED.labels(otlp.label, transport).inc(inspection.accepted)
        if inspection.rejected:
            telemetry.RECEIVER_REJECTED.labels(otlp.label, transport, "invalid").inc(
                inspection.rejected
            )
        telemetry.RECEIVER_REQUESTS.labels(otlp.label, transport, code).inc()
        telemetry.RECEIVER_LATENCY.labels(otlp.label, transport).observe(
            time.perf_counter() - started
        )
        return Outcome(inspection=inspection)

    def refuse(self, otlp: OtlpSignal, transport: Transport, failure: Failure) -> Outcome:
        """Answer a request turned away before decoding (authentication, media type, size)."""
        return self._refused(otlp, transport, failure, time.perf_counter(), 0)

    @staticmethod
    def _refused(
        otlp: OtlpSignal, transport: Transport, failure: Failure, started: float, items: int
    ) -> Outcome:
        if items:
            telemetry.RECEIVER_REJECTED.labels(otlp.label, transport, failure.reason).inc(items)
        telemetry.RECEIVER_REQUESTS.labels(otlp.label, transport, failure.code_label).inc()
        telemetry.RECEIVER_LATENCY.labels(otlp.label, transport).observe(
            time.perf_counter() - started
        )
        return Outcome(failure=failure)


def _transformed(
    decode: Callable[[], Inspection], signal: Signal, transform: IngestTransform
) -> Inspection:
    """Decode, then apply the ingest transform to what was kept; re-serialize on a change."""
    inspection = decode()
    request = inspection.request
    if (
        inspection.accepted
        and request is not None
        and transform(signal, request, inspection.payload)
    ):
        telemetry.RECEIVER_TRANSFORMED.labels(signal.name.lower()).inc()
        return dataclasses.replace(inspection, payload=request.SerializeToString())
    return inspection


class TransformingLog:
    """A DurableLog that applies the ingest transform to each payload before passing it on,
    for writers that build requests themselves (RecordLabels) rather than through a receiver."""

    __slots__ = ("_log", "_transform")

    def __init__(self, log: DurableLog, transform: IngestTransform) -> None:
        self._log = log
        self._transform = transform

    def submit(self, kind: int, payload: bytes) -> concurrent.futures.Future[int]:
        signal = Signal(kind)
        request = parse_request(signal, payload)
        if self._transform(signal, request, payload):
            payload = request.SerializeToString()
        return self._log.submit(kind, payload)
