"""Test helpers for the receivers: an in-memory DurableLog, servers on a background event loop,
OTLP request builders and a throwaway TLS PKI. Imported by conftest.py and by
tests/integration/test_receiver_*.py (which put this folder on sys.path)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import subprocess
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.config.model import (
    GrpcReceiverConfig,
    HttpReceiverConfig,
    OtlpProtocolsConfig,
    OtlpReceiverConfig,
    TLSConfig,
)
from driftline.errors import WalFullError
from driftline.receiver.otlp_grpc import start_otlp_grpc_server
from driftline.receiver.otlp_http import start_otlp_http_server
from driftline.signals import Signal

T = TypeVar("T")

TRACES_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


class MemoryLog:
    """A DurableLog that keeps payloads in a list, "made durable" by one writer thread.

    `full_delay_s` set: `submit` raises WalFullError (backpressure). `fail_with` set: the
    returned future fails with that exception (an I/O error in the writer, say).
    """

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes]] = []
        self.full_delay_s: float | None = None
        self.fail_with: BaseException | None = None
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="memory-log")

    def submit(self, kind: int, payload: bytes) -> concurrent.futures.Future[int]:
        if self.full_delay_s is not None:
            raise WalFullError("the WAL is full", delay_s=self.full_delay_s)
        return self._writer.submit(self._append, kind, payload)

    def _append(self, kind: int, payload: bytes) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        self.records.append((kind, payload))
        return len(self.records)

    def payloads(self, signal: Signal) -> list[bytes]:
        return [payload for kind, payload in self.records if kind == signal]

    def close(self) -> None:
        self._writer.shutdown(wait=True)


class LoopThread:
    """An asyncio loop in a daemon thread, so synchronous clients can call servers on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def receiver_config(
    *,
    token: str = "",
    max_mib: int = 4,
    max_attributes: int = 128,
    grpc_tls: TLSConfig | None = None,
    http_tls: TLSConfig | None = None,
    body_read_timeout_s: float = 30.0,
    max_in_flight_mib: int = 256,
) -> OtlpReceiverConfig:
    return OtlpReceiverConfig(
        protocols=OtlpProtocolsConfig(
            grpc=GrpcReceiverConfig(
                endpoint="127.0.0.1:0",
                max_recv_msg_size_mib=max_mib,
                tls=grpc_tls or TLSConfig(),
            ),
            http=HttpReceiverConfig(
                endpoint="127.0.0.1:0",
                max_request_body_size_mib=max_mib,
                body_read_timeout_s=body_read_timeout_s,
                max_in_flight_mib=max_in_flight_mib,
                tls=http_tls or TLSConfig(),
            ),
        ),
        auth_token=token,
        max_attributes_per_item=max_attributes,
    )


@dataclass
class Receivers:
    """Both OTLP servers over one MemoryLog."""

    log: MemoryLog
    grpc_port: int
    http_port: int
    _stops: list[Any] = field(default_factory=list, repr=False)

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def http_url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.http_port}{path}"


def start_receivers(loop: LoopThread, config: OtlpReceiverConfig) -> Receivers:
    log = MemoryLog()

    async def start() -> Receivers:
        grpc_server, grpc_port = await start_otlp_grpc_server(log, config)
        runner, http_port = await start_otlp_http_server(log, config)
        return Receivers(log, grpc_port, http_port, [grpc_server, runner])

    return loop.run(start())


def stop_receivers(loop: LoopThread, receivers: Receivers) -> None:
    grpc_server, runner = receivers._stops

    async def stop() -> None:
        await grpc_server.stop(None)
        await runner.cleanup()

    loop.run(stop())
    receivers.log.close()


# --- OTLP requests ----------------------------------------------------------------------------


def span_ids(i: int) -> tuple[bytes, bytes]:
    """A valid (trace_id, span_id) pair, distinct per `i`."""
    return (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")


def traces_request(
    n: int, *, attributes: int = 2, overrides: dict[int, dict[str, Any]] | None = None
) -> ExportTraceServiceRequest:
    """`n` valid spans named span-<i> in one resource and scope; `overrides` patches fields of
    span i (e.g. {3: {"trace_id": b""}})."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name").value.string_value = "model-api"
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "test"
    for i in range(n):
        trace_id, span_id = span_ids(i)
        span = scope_spans.spans.add(
            trace_id=trace_id,
            span_id=span_id,
            name=f"span-{i}",
            kind=2,
            start_time_unix_nano=1_700_000_000_000_000_000 + i,
            end_time_unix_nano=1_700_000_000_001_000_000 + i,
        )
        for a in range(attributes):
            span.attributes.add(key=f"attr.{a}").value.int_value = a
        for key, value in (overrides or {}).get(i, {}).items():
            setattr(span, key, value)
    return request


def span_names(payload: bytes) -> list[str]:
    request = ExportTraceServiceRequest.FromString(payload)
    return [
        span.name
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def logs_request(n: int, *, overrides: dict[int, dict[str, Any]] | None = None) -> Any:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(n):
        trace_id, span_id = span_ids(i)
        record = scope_logs.log_records.add(
            time_unix_nano=1_700_000_000_000_000_000 + i,
            severity_number=9,
            trace_id=trace_id,
            span_id=span_id,
        )
        record.body.string_value = f"log-{i}"
        for key, value in (overrides or {}).get(i, {}).items():
            setattr(record, key, value)
    return request


def metrics_request() -> ExportMetricsServiceRequest:
    """One metric of every type: 2 gauge + 3 sum + 1 histogram + 1 exponential histogram +
    2 summary data points = 9."""
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    gauge = metrics.add(name="gpu.utilization").gauge
    for value in (0.5, 0.7):
        gauge.data_points.add(as_double=value, time_unix_nano=1)
    total = metrics.add(name="requests").sum
    total.aggregation_temporality = 2
    total.is_monotonic = True
    for value in (1, 2, 3):
        total.data_points.add(as_int=value, time_unix_nano=1)
    metrics.add(name="latency").histogram.data_points.add(
        count=2, sum=3.0, bucket_counts=[1, 1], explicit_bounds=[1.0]
    )
    metrics.add(name="latency.exp").exponential_histogram.data_points.add(count=1, scale=2)
    summary = metrics.add(name="latency.summary").summary
    for count in (1, 2):
        summary.data_points.add(count=count, sum=1.0)
    return request


# --- TLS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki | None:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made with
    the openssl CLI (the `cryptography` package is not installed). None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ca")
    for name, extensions in (
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (directory / f"{name}.ext").write_text(extensions)
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2"]
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            *sign,
            "-out",
            f"{name}.crt",
            "-extfile",
            f"{name}.ext",
        )
    return Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
