"""Forwarding over TLS (gRPC and OTLP/HTTP) to a destination whose certificate a private CA
signed: trusted via tls.ca_file it works; without it the handshake fails and is retried
(UNAVAILABLE / connection error), never acknowledged."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from driftline.config.model import ClientTLSConfig
from driftline.signals import Signal
from tests.integration.forwarding import Harness, metric, running_harness, wait_until
from tests.otlp_sink import OtlpSink
from tests.unit.export.otlp import otlp_requests


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=driftline test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(key), "-out", str(csr))  # fmt: skip
    ext = d / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture
def sink(certs: dict[str, Path]) -> Iterator[OtlpSink]:
    s = OtlpSink(tls=(certs["cert"], certs["key"])).start(0, 0)
    yield s
    s.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from running_harness(tmp_path)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_tls_with_the_private_ca(
    harness: Harness, sink: OtlpSink, certs: dict[str, Path], protocol: str
) -> None:
    endpoint = (
        f"127.0.0.1:{sink.grpc_port}"
        if protocol == "grpc"
        else f"https://127.0.0.1:{sink.http_port}"
    )
    dest = harness.dest(endpoint, protocol=protocol, tls=ClientTLSConfig(ca_file=str(certs["ca"])))
    wal = harness.open(dest)
    wal.append(int(Signal.TRACES), otlp_requests.traces([[25]]).SerializeToString())
    harness.start(dest)
    assert sink.wait_items(25) == 25
    assert wait_until(lambda: harness.lag(dest) == 0)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_an_untrusted_certificate_is_retried_not_acknowledged(
    harness: Harness, sink: OtlpSink, protocol: str
) -> None:
    endpoint = (
        f"127.0.0.1:{sink.grpc_port}"
        if protocol == "grpc"
        else f"https://127.0.0.1:{sink.http_port}"
    )
    dest = harness.dest(endpoint, protocol=protocol, tls=replace(ClientTLSConfig()), timeout_s=1.0)
    wal = harness.open(dest)
    wal.append(int(Signal.TRACES), otlp_requests.traces([[5]]).SerializeToString())
    harness.start(dest)
    code = "unavailable" if protocol == "grpc" else "connection"
    assert wait_until(
        lambda: metric("retries", exporter=dest.name, signal="traces", code=code) >= 2
    )
    assert sink.items() == 0 and harness.lag(dest) == 1
