"""How CLI commands reach the query API: endpoint, token, TLS and timeout, from flags or env.

--server HOST:PORT   else DRIFTLINE_QUERY_ENDPOINT, else 127.0.0.1:4319
--token TOKEN        else DRIFTLINE_QUERY_TOKEN; sent as `authorization: Bearer <token>`
--tls-ca FILE        verify the server against this CA (PEM); without it: plaintext
--timeout SECONDS    the server's time limit for the statement; the call's gRPC deadline
                     is a little longer, so the server's own error arrives first
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import grpc
from google.protobuf.message import Message

from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc

DEFAULT_ENDPOINT: Final = "127.0.0.1:4319"
ENV_ENDPOINT: Final = "DRIFTLINE_QUERY_ENDPOINT"
ENV_TOKEN: Final = "DRIFTLINE_QUERY_TOKEN"
DEADLINE_MARGIN_S: Final = 5.0
MAX_RESPONSE_BYTES: Final = 256 << 20  # a result of max_rows wide rows can pass gRPC's 4 MiB


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        help=f"query API address (default ${ENV_ENDPOINT} or {DEFAULT_ENDPOINT})",
    )
    group.add_argument("--token", help=f"bearer token (default ${ENV_TOKEN})")
    group.add_argument("--tls-ca", metavar="FILE", help="use TLS, trusting this CA (PEM)")
    group.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit (default: the server's)"
    )


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to call: resolved once from the arguments and the environment."""

    endpoint: str
    token: str = ""
    tls_ca_file: str = ""
    timeout_s: float | None = None

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] | None = None
    ) -> Connection:
        env = os.environ if env is None else env
        return cls(
            endpoint=args.server or env.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT,
            token=args.token if args.token is not None else env.get(ENV_TOKEN, ""),
            tls_ca_file=args.tls_ca or "",
            timeout_s=args.timeout,
        )

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    @property
    def deadline_s(self) -> float | None:
        return None if self.timeout_s is None else self.timeout_s + DEADLINE_MARGIN_S

    def channel(self) -> grpc.Channel:
        options = [("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)]
        if not self.tls_ca_file:
            return grpc.insecure_channel(self.endpoint, options=options)
        with open(self.tls_ca_file, "rb") as file:
            credentials = grpc.ssl_channel_credentials(root_certificates=file.read())
        return grpc.secure_channel(self.endpoint, credentials, options=options)


class QueryClient:
    """A blocking client of `driftline.v1.QueryService`. Use as a context manager."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._channel = connection.channel()
        self._stub = query_pb2_grpc.QueryServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def __enter__(self) -> QueryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def sql(
        self, sql: str, parameters: Mapping[str, str] | None = None, max_rows: int = 0
    ) -> query_pb2.SqlResponse:
        request = query_pb2.SqlRequest(
            sql=sql,
            parameters=dict(parameters or {}),
            max_rows=max_rows,
            timeout_seconds=self._connection.timeout_s or 0.0,
        )
        response: query_pb2.SqlResponse = self._stub.Sql(
            request, timeout=self._connection.deadline_s, metadata=self._connection.metadata
        )
        return response

    def call(self, method: str, request: Message) -> Any:
        """Any unary QueryService RPC by name, with this connection's token and deadline."""
        rpc = getattr(self._stub, method)
        return rpc(request, timeout=self._connection.deadline_s, metadata=self._connection.metadata)
