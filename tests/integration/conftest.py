"""Fixtures shared by the forwarding tests: a counting OTLP sink, and rotel (a real third-party
collector, PyPI `rotel`) forwarding everything it receives to that sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.first_hour import first_hour  # noqa: F401  (the README tests' server)
from tests.otlp_sink import OtlpSink
from tests.rotel_agent import RotelAgent


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    s = OtlpSink(keep_requests=True).start(0, 0)
    yield s
    s.close()


@pytest.fixture
def rotel(tmp_path: Path, sink: OtlpSink) -> Iterator[RotelAgent]:
    agent = RotelAgent(
        tmp_path / "rotel.log",
        "--exporter", "otlp",
        "--otlp-exporter-endpoint", f"http://{sink.grpc_endpoint}",
        "--otlp-exporter-protocol", "grpc",
    )  # fmt: skip
    with agent:
        yield agent
