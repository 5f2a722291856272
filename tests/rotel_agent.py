"""Run `rotel-agent` (PyPI `rotel`, a Rust OTLP collector) as a real third-party downstream.

rotel binds fixed ports, so free ones are picked first; readiness is its gRPC port accepting
connections. Its debug log (`--debug-log traces --debug-log-verbosity detailed`) prints every
span it receives; with `--exporter otlp` it forwards them on (e.g. to tests/otlp_sink.py).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def binary() -> Path:
    import rotel  # the wheel carries the binary next to its Python wrapper

    return Path(rotel.__file__).parent / "rotel-agent"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RotelAgent:
    def __init__(self, log_path: Path, *exporter_args: str) -> None:
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.log_path = log_path
        self.args = [
            str(binary()), "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
            "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
            "--debug-log", "traces", "--debug-log-verbosity", "detailed",
            *(exporter_args or ("--exporter", "blackhole")),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> RotelAgent:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rotel exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.grpc_port), timeout=0.2).close()
                socket.create_connection(("127.0.0.1", self.http_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"rotel not ready:\n{self.log_path.read_text()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> RotelAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
