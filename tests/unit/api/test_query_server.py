"""The query API over gRPC: typed values, limits, status codes, auth, health, reflection, TLS."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import grpc
import pytest
from api_harness import ROWS, Pki, QueryServer
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from driftline import telemetry
from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc
from driftline.api.engine import EnginePool
from driftline.api.query_service import row_limit, time_limit
from driftline.query.sql import SqlTimeoutError, StorageUnavailableError
from driftline.storage.client import Target, connect

TOKEN = "s3cret-token"


def kinds(row: query_pb2.Row) -> list[tuple[str | None, object]]:
    out: list[tuple[str | None, object]] = []
    for value in row.values:
        kind = value.WhichOneof("kind")
        out.append((kind, getattr(value, kind) if kind else None))
    return out


def code_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert isinstance(error, grpc.Call)
    return error.code(), error.details() or ""


def test_rows_arrive_as_typed_values(query_server: QueryServer, api_db: str) -> None:
    response = query_server.sql(f"SELECT * FROM {api_db}.typed ORDER BY id")
    assert [(c.name, c.type) for c in response.columns][:3] == [
        ("id", "UInt64"),
        ("score", "Float64"),
        ("name", "String"),
    ]
    assert len(response.rows) == ROWS and not response.truncated
    assert response.rows_read == ROWS and response.elapsed_seconds > 0
    assert kinds(response.rows[1]) == [
        ("uint64_value", 1),
        ("double_value", 0.25),
        ("string_value", "model-1"),
        ("json_value", '{"team":"ml","n":"1"}'),
        ("json_value", '["a","1"]'),
        ("json_value", '"2024-05-01T12:00:01.250000+00:00"'),
        ("string_value", "odd"),
        ("int64_value", -1),
        ("bool_value", False),
    ]
    assert kinds(response.rows[0])[6] == ("null_value", True)


def test_composite_values_are_json(query_server: QueryServer) -> None:
    response = query_server.sql(
        "SELECT (1, 'x') AS t, toDecimal64(1.25, 2) AS d, toUInt256(5) AS big, "
        "toUUID('00000000-0000-0000-0000-000000000001') AS u, [nan] AS f"
    )
    values = [json.loads(v.json_value) for v in response.rows[0].values]
    assert values == [[1, "x"], "1.25", 5, "00000000-0000-0000-0000-000000000001", ["NaN"]]


def test_parameters_are_bound_and_injection_stays_a_value(
    query_server: QueryServer, api_db: str
) -> None:
    sql = f"SELECT id FROM {api_db}.typed WHERE name = {{name:String}}"
    ok = query_server.sql(sql, parameters={"name": "model-2"})
    assert [kinds(r) for r in ok.rows] == [[("uint64_value", 2)]]
    injected = query_server.sql(sql, parameters={"name": "model-2' OR '1'='1"})
    assert list(injected.rows) == []


def test_max_rows_truncates_and_is_capped_by_the_server(
    query_server: QueryServer, api_db: str
) -> None:
    response = query_server.sql(f"SELECT id FROM {api_db}.typed", max_rows=2)
    assert len(response.rows) == 2 and response.truncated
    capped = query_server.sql("SELECT number FROM numbers(1000)", max_rows=5000)
    assert len(capped.rows) == 100 and capped.truncated  # the server's max_rows


def test_limits_from_request_server_and_deadline() -> None:
    assert row_limit(0, 100) == 100 and row_limit(7, 100) == 7 and row_limit(500, 100) == 100
    assert time_limit(0, 30, None) == 30 and time_limit(2, 30, None) == 2
    assert time_limit(60, 30, None) == 30 and time_limit(float("nan"), 30, None) == 30
    assert time_limit(10, 30, 4.5) == 4.5
    with pytest.raises(SqlTimeoutError):
        time_limit(10, 30, 0)


def test_a_slow_statement_ends_with_deadline_exceeded(query_server: QueryServer) -> None:
    started = time.monotonic()
    code, details = code_of(
        lambda: query_server.sql("SELECT count() FROM numbers_mt(1e13)", timeout_seconds=1.0)
    )
    assert code is grpc.StatusCode.DEADLINE_EXCEEDED and "TIMEOUT_EXCEEDED" in details
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {db}.writable VALUES (1)",
        "CREATE TABLE {db}.created (x UInt8) ENGINE = Memory",
        "DROP TABLE {db}.writable",
        "ALTER TABLE {db}.writable DELETE WHERE 1",
        "SET max_threads = 1",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT 1; DROP TABLE {db}.writable",
        "SELECT * FROM no_such_table_anywhere",
        "SELEC 1",
    ],
)
def test_writes_and_bad_statements_are_invalid_argument(
    query_server: QueryServer, engine: Client, api_db: str, statement: str
) -> None:
    code, details = code_of(lambda: query_server.sql(statement.format(db=api_db)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and details
    assert engine.query(f"SELECT count() FROM {api_db}.writable").result_rows == [(0,)]
    assert engine.query(f"EXISTS TABLE {api_db}.created").result_rows == [(0,)]


def test_storage_unreachable_is_unavailable(start_server: Callable[..., QueryServer]) -> None:
    def unreachable() -> Client:
        raise OperationalError("Error HTTPConnectionPool(host='127.0.0.1', port=1): refused")

    server = start_server(client_factory=unreachable)
    code, details = code_of(lambda: server.sql("SELECT 1"))
    assert code is grpc.StatusCode.UNAVAILABLE and "ClickHouse" in details


def test_calls_are_counted_by_method_and_code(query_server: QueryServer) -> None:
    def count(code: str) -> float:
        value = telemetry.REGISTRY.get_sample_value(
            "driftline_query_requests_total", {"method": "Sql", "code": code}
        )
        return value or 0.0

    ok, invalid = count("ok"), count("invalid_argument")
    query_server.sql("SELECT 1")
    code_of(lambda: query_server.sql("DROP TABLE x"))
    assert (count("ok"), count("invalid_argument")) == (ok + 1, invalid + 1)


def test_a_token_is_required_when_configured(start_server: Callable[..., QueryServer]) -> None:
    server = start_server(auth_token=TOKEN)
    for token in (None, "wrong", TOKEN + "x"):
        code, _ = code_of(lambda token=token: server.sql("SELECT 1", token=token))  # type: ignore[misc]
        assert code is grpc.StatusCode.UNAUTHENTICATED
    assert kinds(server.sql("SELECT 1", token=TOKEN).rows[0]) == [("uint64_value", 1)]


def test_health_and_reflection_stay_open(start_server: Callable[..., QueryServer]) -> None:
    server = start_server(auth_token=TOKEN)
    with server.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "driftline.v1.QueryService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (reply,) = list(reflection.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in reply.list_services_response.service}
    assert {"driftline.v1.QueryService", "grpc.health.v1.Health"} <= names


def test_tls_and_mutual_tls(start_server: Callable[..., QueryServer], pki: Pki) -> None:
    server = start_server(tls=pki.server_tls(mutual=True))
    ca = pki.ca.read_bytes()
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    with grpc.secure_channel(server.endpoint, with_cert) as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)
        reply = stub.Sql(query_pb2.SqlRequest(sql="SELECT 1"), timeout=10)
        assert kinds(reply.rows[0]) == [("uint64_value", 1)]
    without_cert = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(server.endpoint, without_cert) as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)
        code, _ = code_of(lambda: stub.Sql(query_pb2.SqlRequest(sql="SELECT 1"), timeout=10))
        assert code is grpc.StatusCode.UNAVAILABLE


def test_each_worker_thread_keeps_its_own_client(engine_target: Target) -> None:
    made: list[int] = []

    def factory() -> Client:
        made.append(threading.get_ident())
        return connect(engine_target)

    async def many() -> list[int]:
        pool = EnginePool(factory, workers=2)
        try:
            calls = [pool.run(lambda c: (threading.get_ident(), id(c))) for _ in range(20)]
            results = await asyncio.gather(*calls)
        finally:
            pool.close()
        by_thread: dict[int, set[int]] = {}
        for thread, client in results:
            by_thread.setdefault(thread, set()).add(client)
        assert all(len(clients) == 1 for clients in by_thread.values())
        return made

    assert len(asyncio.run(many())) <= 2


def test_a_client_that_lost_the_engine_is_replaced(engine_target: Target) -> None:
    clients: list[Client] = []

    def factory() -> Client:
        clients.append(connect(engine_target))
        return clients[-1]

    def fail(_client: Client) -> None:
        raise StorageUnavailableError("gone")

    async def scenario() -> None:
        pool = EnginePool(factory, workers=1)
        try:
            await pool.run(lambda c: c)
            with pytest.raises(StorageUnavailableError):
                await pool.run(fail)
            await pool.run(lambda c: c)
        finally:
            pool.close()

    asyncio.run(scenario())
    assert len(clients) == 2
