"""Helpers for the query API tests: a background event loop, a server handle with a blocking
client, and a throwaway PKI. Fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc
from driftline.config.model import TLSConfig

T = TypeVar("T")

ROWS = 5  # rows in <api_db>.typed (conftest.py)


class LoopThread:
    """An asyncio loop in a daemon thread: servers run on it, tests call them synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@dataclass
class QueryServer:
    port: int
    server: Any

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.endpoint)

    def sql(
        self,
        sql: str,
        token: str | None = None,
        timeout: float = 20.0,
        **fields: Any,
    ) -> query_pb2.SqlResponse:
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        with self.channel() as channel:
            stub = query_pb2_grpc.QueryServiceStub(channel)
            response: query_pb2.SqlResponse = stub.Sql(
                query_pb2.SqlRequest(sql=sql, **fields), metadata=metadata, timeout=timeout
            )
        return response


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_tls(self, *, mutual: bool = False) -> TLSConfig:
        return TLSConfig(
            cert_file=str(self.server_cert),
            key_file=str(self.server_key),
            client_ca_file=str(self.ca) if mutual else "",
        )


def make_pki(directory: Path) -> Pki | None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI);
    None without openssl."""
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
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
