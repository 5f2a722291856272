"""Binding a gRPC server to its endpoint: plaintext, or TLS (mTLS with a client CA) from a
`TLSConfig`. One binding for every gRPC port driftline opens (OTLP/gRPC, the query API).

An unreadable key or certificate is a ConfigError naming `<config_path>.tls.<key>`; a port
that cannot be bound is a ListenError naming the server, the endpoint and its key — both one
line for the CLI, nothing left listening.
"""

from __future__ import annotations

import grpc

from driftline.config.model import TLSConfig
from driftline.errors import ConfigError, ListenError


def bind_grpc(
    server: grpc.aio.Server, endpoint: str, tls: TLSConfig, *, what: str, config_path: str
) -> int:
    """Add `endpoint` to `server` (before it starts); return the bound port."""
    try:
        if tls.enabled:
            port = server.add_secure_port(endpoint, server_credentials(tls, config_path))
        else:
            port = server.add_insecure_port(endpoint)
    except RuntimeError as exc:
        raise ListenError(what, endpoint, f"{config_path}.endpoint", str(exc)) from exc
    if not port:
        raise ListenError(what, endpoint, f"{config_path}.endpoint", "the address is not available")
    return int(port)


def server_credentials(tls: TLSConfig, config_path: str) -> grpc.ServerCredentials:
    key = _read(tls.key_file, f"{config_path}.tls.key_file")
    cert = _read(tls.cert_file, f"{config_path}.tls.cert_file")
    client_ca = (
        _read(tls.client_ca_file, f"{config_path}.tls.client_ca_file")
        if tls.client_ca_file
        else None
    )
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _read(path: str, key: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise ConfigError([f"{key}: cannot read {path!r}: {exc}"]) from None
