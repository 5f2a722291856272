"""Receiver fixtures: `MemoryLog` (the in-memory DurableLog double) and servers to test against.

The servers run on an event loop in a background thread (`loop_thread`), so tests use plain
synchronous clients — grpc channels, urllib, the opentelemetry-sdk exporters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from receiver_harness import (
    LoopThread,
    MemoryLog,
    Pki,
    Receivers,
    make_pki,
    receiver_config,
    start_receivers,
    stop_receivers,
)

__all__ = ["MemoryLog"]


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def serve(loop_thread: LoopThread) -> Iterator[Callable[..., Receivers]]:
    """serve(**receiver_config kwargs) → Receivers; everything started is stopped afterwards."""
    started: list[Receivers] = []

    def start(**kwargs: Any) -> Receivers:
        receivers = start_receivers(loop_thread, receiver_config(**kwargs))
        started.append(receivers)
        return receivers

    yield start
    for receivers in started:
        stop_receivers(loop_thread, receivers)


@pytest.fixture
def receivers(serve: Callable[..., Receivers]) -> Receivers:
    """Both servers with defaults: no token, 4 MiB limit, 128 attributes per item."""
    return serve()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    made = make_pki(Path(tmp_path_factory.mktemp("pki")))
    if made is None:
        pytest.skip("TLS tests need the openssl CLI (the cryptography package is not installed)")
    return made
