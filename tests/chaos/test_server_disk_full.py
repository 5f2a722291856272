"""Disk full end to end (#16.2): a real `driftline serve` whose data directory — WAL and
embedded engine — lives on a small tmpfs that fills up under OTLP load.

While full: OTLP/HTTP answers 503 with Retry-After, OTLP/gRPC UNAVAILABLE with RetryInfo
(never "internal"), gRPC health says NOT_SERVING and /healthz is not ok. When space returns:
ingest resumes by itself, health is SERVING again, the ClickHouse sink catches up by itself
(no restart), and every acknowledged span is in ClickHouse exactly once.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.chaos.small_disk import small_disk
from tests.serve import ServerProcess

pytestmark = pytest.mark.crash

SPANS = 50
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CONFIG = """
wal:
  segment_size_mib: 1
  max_size_mib: 64
  retry_after: 1s
"""


def _request(batch: int) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "disk-full"
    rs.resource.attributes.add(key="batch").value.string_value = str(batch)
    spans = rs.scope_spans.add().spans
    now = time.time_ns()
    for i in range(SPANS):
        s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer", kind=2)
        s.start_time_unix_nano, s.end_time_unix_nano = now + i, now + i + 1000
        s.attributes.add(key="ml.model.name").value.string_value = "xgb"
        s.attributes.add(key="pad").value.string_value = os.urandom(400).hex()
    return req.SerializeToString()


def _post(server: ServerProcess, body: bytes) -> tuple[int, dict[str, str]]:
    url = f"http://{server.endpoints['otlp_http']}/v1/traces"
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-protobuf"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def _healthz(server: ServerProcess) -> int:
    try:
        url = f"http://{server.endpoints['otlp_http']}/healthz"
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _grpc_health(channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status)


def _export(channel: grpc.Channel, body: bytes) -> grpc.RpcError | None:
    try:
        channel.unary_unary(METHOD)(body, timeout=30)
    except grpc.RpcError as exc:
        return exc
    return None


def _wait(predicate: object, timeout_s: float = 90.0) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def test_disk_full_is_retryable_unhealthy_and_recovers_by_itself(tmp_path: Path) -> None:
    with (
        small_disk(tmp_path, 256) as disk,
        ServerProcess(disk.root / "data", config=CONFIG) as server,
    ):
        acked: list[int] = []
        channel = grpc.insecure_channel(server.endpoints["otlp_grpc"])
        batch = 0
        assert _grpc_health(channel) == health_pb2.HealthCheckResponse.SERVING
        for _ in range(10):  # accepted, then the disk fills before the sink has inserted them
            batch += 1
            assert _export(channel, _request(batch)) is None
            acked.append(batch)
        disk.fill(leave=512 << 10)
        http_refusals = grpc_refusals = 0
        for _ in range(60):
            batch += 1
            if batch % 2:
                status, headers = _post(server, _request(batch))
                if status == 200:
                    acked.append(batch)
                    continue
                assert status == 503, status
                assert int(headers["Retry-After"]) >= 1
                http_refusals += 1
            else:
                error = _export(channel, _request(batch))
                if error is None:
                    acked.append(batch)
                    continue
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                assert "internal" not in (error.details() or "")
                details = dict(error.trailing_metadata() or ())
                status_proto = status_pb2.Status.FromString(details["grpc-status-details-bin"])
                kinds = [d.type_url.rsplit("/", 1)[-1] for d in status_proto.details]
                assert "google.rpc.RetryInfo" in kinds
                retry = error_details_pb2.RetryInfo.FromString(details["google.rpc.retryinfo-bin"])
                assert retry.retry_delay.seconds >= 1
                grpc_refusals += 1
        assert http_refusals and grpc_refusals, "the disk never filled up"
        assert _grpc_health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _healthz(server) == 503
        time.sleep(3)  # the sink meets the full disk too, and retries meanwhile

        disk.free()
        assert _wait(lambda: _grpc_health(channel) == health_pb2.HealthCheckResponse.SERVING)
        assert _healthz(server) == 200
        for _ in range(5):
            batch += 1
            assert _export(channel, _request(batch)) is None
            acked.append(batch)
        channel.close()

        # the sink catches up by itself, without a restart, and loses or duplicates nothing
        _assert_sink_caught_up(server, acked, tmp_path)


def _assert_sink_caught_up(server: ServerProcess, acked: list[int], keep: Path) -> None:
    try:
        server.wait_for(
            "SELECT count() FROM otel_traces WHERE ResourceAttributes['service.name'] = "
            "'disk-full'",
            SPANS * len(acked),
            timeout_s=60,
        )
    finally:
        shutil.copy(server.log_path, keep / "server.log")  # the log dies with the tmpfs
    rows = server.sql(
        "SELECT ResourceAttributes['batch'] AS b, count() FROM otel_traces "
        "WHERE ResourceAttributes['service.name'] = 'disk-full' GROUP BY b"
    )
    assert {int(b): n for b, n in rows} == dict.fromkeys(acked, SPANS)
