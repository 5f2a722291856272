"""`service.start` unwinds: a failure at any start step leaves no WAL lock held, no thread
running and no collector registered; a full start and stop leaves nothing behind either.

The service runs in this process on the suite's one embedded engine (its data dir's
`clickhouse` is a link to it) with every component switched on: a forwarding destination,
derived signals, an alert rule. A step is failed by raising from `Lifecycle.start` just before
that component's own start — the step runs nothing, as when its bind or open fails; one more
test fails the last network step for real (its port is taken).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline import service, telemetry
from driftline.config.load import load_config
from driftline.config.model import DriftlineConfig
from driftline.lifecycle import Component, Lifecycle
from driftline.wal import Wal

STEPS = [
    "wal",
    "inserter",
    "clickhouse-sink",
    "forwarder down",
    "drain",
    "otlp-grpc",
    "otlp-http",
    "query-api",
    "mlflow",
    "console",
    "derived-metrics",
    "derived",
    "alerts",
    "metrics",
]

CONFIG = """
data_dir: {data_dir}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:0"}}
      http: {{endpoint: "127.0.0.1:0"}}
query: {{endpoint: "{query}"}}
telemetry: {{metrics_endpoint: "127.0.0.1:0"}}
wal: {{sync: never}}
exporters:
  clickhouse: {{database: {database}}}
  otlp:
    - name: down
      protocol: grpc
      endpoint: "127.0.0.1:9"
      tls: {{insecure: true}}
      retry_on_failure: {{initial_interval: 10ms, max_interval: 20ms}}
derived: {{enabled: true, interval: 1h}}
alerts:
  evaluation_interval: 1h
  rules:
    - {{name: slow, kind: latency_p99_ms, model: m, threshold: 100}}
"""


@pytest.fixture
def config(tmp_path: Path, chdb_dir: Path) -> Iterator[DriftlineConfig]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "clickhouse").symlink_to(chdb_dir)  # the process's one engine directory
    yield make_config(tmp_path, data_dir, "127.0.0.1:0")


def make_config(tmp_path: Path, data_dir: Path, query: str) -> DriftlineConfig:
    path = tmp_path / "driftline.yaml"
    database = f"life_{uuid.uuid4().hex[:8]}"
    path.write_text(CONFIG.format(data_dir=data_dir, query=query, database=database))
    return load_config(path, environ={})


# grpc.aio's poller: one per process, started with the first aio server and kept for the
# process's life (grpc's design, not a leak). At most one may exist.
PROCESS_WIDE = "_poll_wrapper"


def thread_names() -> set[str]:
    names = [t.name for t in threading.enumerate()]
    assert sum(PROCESS_WIDE in n for n in names) <= 1, names
    return {n for n in names if PROCESS_WIDE not in n}


def assert_nothing_left(cfg: DriftlineConfig, threads_before: set[str]) -> None:
    wal = Wal.open(cfg.wal, cfg.wal_dir, cursors=["clickhouse"])  # raises if still locked
    wal.close()
    deadline = time.monotonic() + 5.0
    while thread_names() - threads_before and time.monotonic() < deadline:
        time.sleep(0.05)  # a joined thread may take a moment to leave enumerate()
    assert thread_names() - threads_before == set()
    assert telemetry.REGISTRY.get_sample_value("driftline_wal_head_id") is None  # unregistered


def fail_at(monkeypatch: pytest.MonkeyPatch, step: str) -> list[str]:
    """Make `Lifecycle.start` raise for `step`; return the steps that were reached."""
    reached: list[str] = []
    real_start = Lifecycle.start

    async def start(self: Lifecycle, component: Component, name: str = "") -> Component:
        reached.append(name)
        if name == step:
            raise RuntimeError(f"injected failure at {step}")
        return await real_start(self, component, name)

    monkeypatch.setattr(Lifecycle, "start", start)
    return reached


@pytest.mark.parametrize("step", STEPS)
def test_a_failing_start_step_unwinds_everything_started_before_it(
    config: DriftlineConfig, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    threads_before = thread_names()
    reached = fail_at(monkeypatch, step)
    with pytest.raises(RuntimeError, match=f"injected failure at {step}"):
        asyncio.run(service.start(config))
    assert reached == STEPS[: STEPS.index(step) + 1]  # the order is the documented one
    monkeypatch.undo()
    assert_nothing_left(config, threads_before)


def test_a_port_in_use_fails_the_start_and_unwinds(tmp_path: Path, chdb_dir: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "clickhouse").symlink_to(chdb_dir)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = make_config(tmp_path, data_dir, f"127.0.0.1:{taken.getsockname()[1]}")
        threads_before = thread_names()
        with pytest.raises(OSError, match="query API cannot listen"):
            asyncio.run(service.start(cfg))
    assert_nothing_left(cfg, threads_before)


def test_start_then_stop_leaves_nothing_behind(config: DriftlineConfig) -> None:
    threads_before = thread_names()

    async def run() -> list[str]:
        running = await service.start(config)
        started = running.lifecycle.started
        await service.stop(running, grace_s=1.0)
        return started

    assert asyncio.run(run()) == STEPS
    assert_nothing_left(config, threads_before)
