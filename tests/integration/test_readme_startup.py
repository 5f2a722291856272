"""Startup problems a user can fix are one line and exit code 2, not a traceback (#11.9): a
busy port names the flag to change; a second `serve` on the same data dir says it is in use
(a lock, not WAL corruption)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.first_hour import FirstHour

pytestmark = pytest.mark.integration
FREE = ("--otlp-grpc", "--otlp-http", "--query-grpc", "--metrics")
# What may precede the error: driftline's own log lines and gRPC core's one-line log.
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) |[EWI]\d{4} )")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def serve(data_dir: Path, **endpoints: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "driftline", "serve", "--data-dir", str(data_dir)]
    for flag in FREE:
        args += [flag, endpoints.get(flag.strip("-").replace("-", "_"), "127.0.0.1:0")]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line and not _LOG_LINE.match(line)]


@pytest.mark.parametrize(
    ("flag", "component"),
    [("otlp_grpc", "OTLP/gRPC"), ("otlp_http", "OTLP/HTTP"), ("query_grpc", "query API"),
     ("metrics", "Prometheus /metrics")],
)  # fmt: skip
def test_busy_port_is_one_line(tmp_path: Path, busy_port: int, flag: str, component: str) -> None:
    done = serve(tmp_path, **{flag: f"127.0.0.1:{busy_port}"})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert problem_lines(done.stderr) == [
        f"error: {component} cannot listen on 127.0.0.1:{busy_port}: the address is already in "
        f"use (is another driftline running?) (choose another address with "
        f"--{flag.replace('_', '-')} HOST:PORT; port 0 picks a free one)"
    ]


def test_second_serve_on_one_data_dir_is_one_line(first_hour: FirstHour) -> None:
    done = serve(first_hour.server.data_dir)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Corruption" not in done.stderr
    [line] = problem_lines(done.stderr)
    assert line.startswith("error: WAL directory ") and "is locked by another open WAL" in line
    assert f"pid {first_hour.server.pid}" in line
