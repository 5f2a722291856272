"""End to end: spans over OTLP/gRPC → `driftline serve` → ClickHouse, read back with the
`driftline sql` command as a user runs it (a subprocess, endpoint and token from the env)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration

TOKEN = "query-e2e-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"DRIFTLINE_QUERY_TOKEN": TOKEN}
    with ServerProcess(tmp_path_factory.mktemp("query-e2e"), env=env) as srv:
        yield srv


def driftline_sql(
    server: ServerProcess, *args: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_QUERY_")}
    env["DRIFTLINE_QUERY_ENDPOINT"] = server.endpoints["query_grpc"]
    if token is not None:
        env["DRIFTLINE_QUERY_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "driftline", "sql", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def export_spans(server: ServerProcess, service: str, n: int) -> None:
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=service))
    )
    scope_spans = resource_spans.scope_spans.add()
    now = time.time_ns()
    for i in range(n):
        span = scope_spans.spans.add()
        span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
        span.name = "predict"
        span.start_time_unix_nano = now + i
        span.end_time_unix_nano = now + i + (i + 1) * 1_000_000
    with grpc.insecure_channel(server.endpoints["otlp_grpc"]) as channel:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=30)


def wait_for_count(server: ServerProcess, service: str, expected: int) -> None:
    sql = "SELECT count() FROM otel_traces WHERE ServiceName = {svc:String}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = driftline_sql(server, sql, "--param", f"svc={service}", "--json")
        assert done.returncode == 0, done.stderr
        if json.loads(done.stdout)["rows"] == [[expected]]:
            return
        time.sleep(0.3)
    raise AssertionError(f"{expected} spans of {service} never arrived")


def test_spans_are_read_back_with_driftline_sql(server: ServerProcess) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    export_spans(server, service, 3)
    wait_for_count(server, service, 3)

    done = driftline_sql(
        server,
        "SELECT SpanName, Duration FROM otel_traces WHERE ServiceName = {svc:String} "
        "ORDER BY Duration",
        "--param",
        f"svc={service}",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["SpanName", "Duration"]
    assert [line.split() for line in lines[2:]] == [
        ["predict", "1000000"],
        ["predict", "2000000"],
        ["predict", "3000000"],
    ]
    assert "3 rows in" in done.stderr

    as_json = driftline_sql(
        server,
        "SELECT ServiceName, SpanAttributes FROM otel_traces WHERE ServiceName = {svc:String}",
        "--param",
        f"svc={service}",
        "--max-rows",
        "2",
        "--json",
    )
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert [c["name"] for c in document["columns"]] == ["ServiceName", "SpanAttributes"]
    assert document["rows"] == [[service, {}], [service, {}]]
    assert document["truncated"] is True


def test_the_query_api_guards_the_data(server: ServerProcess) -> None:
    unauthenticated = driftline_sql(server, "SELECT 1", token=None)
    assert unauthenticated.returncode == 1
    assert unauthenticated.stderr.startswith("error: UNAUTHENTICATED: ")

    for statement in ("DROP TABLE otel_traces", "INSERT INTO otel_traces (SpanName) VALUES ('x')"):
        refused = driftline_sql(server, statement)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: INVALID_ARGUMENT: ")
    still_there = driftline_sql(server, "EXISTS TABLE otel_traces", "--json")
    assert json.loads(still_there.stdout)["rows"] == [[1]]


def test_the_query_port_answers_health_checks(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.endpoints["query_grpc"]) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="driftline.v1.QueryService"), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
