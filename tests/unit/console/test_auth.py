"""The console's token and host rules (console/auth.py)."""

from __future__ import annotations

import pytest

from driftline.console.auth import Sessions, host_name, is_loopback_host, safe_next
from driftline.console.server import client_endpoint


def test_no_token_lets_everyone_in() -> None:
    assert Sessions("").allows(None, None)


def test_a_token_needs_the_bearer_header_or_an_open_session() -> None:
    sessions = Sessions("t0ken")
    assert not sessions.allows(None, None)
    assert not sessions.allows("Bearer wrong", None)
    assert sessions.allows("Bearer t0ken", None)
    session = sessions.open()
    assert sessions.allows(None, session) and not sessions.allows(None, session + "x")
    sessions.close(session)
    assert not sessions.allows(None, session)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("127.0.0.2", True), ("0.0.0.0", False), ("10.1.2.3", False), ("evil.example", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_host_header_names() -> None:
    assert host_name("127.0.0.1:4320") == "127.0.0.1"
    assert host_name("[::1]:4320") == "::1"
    assert host_name("localhost") == "localhost"


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/model?model=a", "/model?model=a"), ("//evil.example/x", "/"),
     ("https://evil.example", "/"), ("/\\evil", "/"), ("", "/")],
)  # fmt: skip
def test_only_local_paths_after_login(target: str, safe: str) -> None:
    assert safe_next(target) == safe


def test_the_console_reaches_a_wildcard_query_api_on_loopback() -> None:
    assert client_endpoint("0.0.0.0:4319") == "127.0.0.1:4319"
    assert client_endpoint("[::]:4319") == "[::1]:4319"
    assert client_endpoint("10.0.0.5:4319") == "10.0.0.5:4319"
