"""Slow and huge HTTP uploads (#16.5) against the real OTLP/HTTP server: a body that does not
arrive in time is answered 408 and its connection closed; bytes being read at once are capped
(503 + Retry-After past the cap), and the cap is free again once the slow upload is gone."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "receiver"))

from receiver_harness import Receivers
from test_otlp_http import post, traces_request

pytest_plugins = ["tests.unit.receiver.conftest"]


def _start_upload(port: int, declared: int, sent: bytes) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    conn.sendall(head.encode() + sent)
    return conn


def test_a_body_that_never_finishes_gets_408_and_the_connection_closes(
    serve: Callable[..., Receivers],
) -> None:
    receivers = serve(body_read_timeout_s=0.5)
    conn = _start_upload(receivers.http_port, 1000, b"x" * 10)
    reply = conn.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    conn.settimeout(60)  # after aiohttp's lingering_time (10 s) at most
    while conn.recv(4096):  # the server closes it: recv returns b"" (never: TimeoutError)
        pass
    conn.close()
    assert receivers.log.records == []


def test_bytes_in_flight_are_capped_and_released(serve: Callable[..., Receivers]) -> None:
    receivers = serve(max_mib=4, max_in_flight_mib=4, body_read_timeout_s=1.0)
    slow = _start_upload(receivers.http_port, 3 << 20, b"x" * 100)  # holds 3 MiB of budget
    try:
        big = traces_request(12000).SerializeToString()  # > 1 MiB: does not fit beside it
        assert len(big) > 1 << 20
        reply = post(receivers.http_url("/v1/traces"), big)
        assert reply.status == 503 and int(reply.headers["retry-after"]) >= 1
        assert slow.recv(4096).startswith(b"HTTP/1.1 408")  # the slow one times out
    finally:
        slow.close()
    reply = post(receivers.http_url("/v1/traces"), big)  # the budget is free again
    assert reply.status == 200, reply.body[:200]
