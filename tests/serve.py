"""Run `driftline serve` as a subprocess for end-to-end and crash tests.

The server binds port 0 everywhere and writes its bound addresses to `<data-dir>/endpoints.json`
once ready; `ServerProcess.sql()` reads rows back through the query API, as users do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        config: str | None = None,
        env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.env = env or {}
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoints: dict[str, str] = {}
        self.log_path = data_dir / "server.log"

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoints = self.data_dir / "endpoints.json"
        endpoints.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "driftline", "serve", "--data-dir", str(self.data_dir),
            "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
            "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--mlflow", "127.0.0.1:0",
            "--console", "127.0.0.1:0",
        ]  # fmt: skip
        if self.config is not None:
            config_path = self.data_dir / "config.yaml"
            config_path.write_text(self.config)
            args += ["--config", str(config_path)]
        args += list(self.extra_args)
        env = {**os.environ, **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout_s
        while not endpoints.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready:\n{self.log_path.read_text()[-4000:]}")
            time.sleep(0.05)
        self.endpoints = json.loads(endpoints.read_text())
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: nothing gets a chance to flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self, timeout_s: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def sql(self, query: str, token: str | None = None) -> list[list[Any]]:
        """Rows of a read-only query through the query API (values as the API returns them)."""
        from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc

        with grpc.insecure_channel(self.endpoints["query_grpc"]) as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            metadata = (("authorization", f"Bearer {token}"),) if token else None
            response = stub.Sql(query_pb2.SqlRequest(sql=query), metadata=metadata, timeout=60)
        rows = []
        for row in response.rows:
            rows.append(
                [
                    getattr(v, v.WhichOneof("kind")) if v.WhichOneof("kind") else None
                    for v in row.values
                ]
            )
        return rows

    def scalar(self, query: str) -> Any:
        return self.sql(query)[0][0]

    def wait_for(self, query: str, expected: Any, timeout_s: float = 60.0) -> Any:
        """Poll `query` until it returns `expected` (the sink inserts asynchronously)."""
        deadline = time.monotonic() + timeout_s
        value = None
        while time.monotonic() < deadline:
            value = self.scalar(query)
            if value == expected:
                return value
            time.sleep(0.2)
        raise AssertionError(f"{query!r} returned {value!r}, expected {expected!r}")

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(30)
            except subprocess.TimeoutExpired:
                self.kill()
