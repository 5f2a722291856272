"""The MLflow API as a component of `driftline serve`: built from the config and the running
WAL/sink, stopped with the other servers (`cleanup()`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from clickhouse_connect.driver.client import Client

from driftline.config.model import DriftlineConfig
from driftline.mlflow.durable import DurableWrites
from driftline.mlflow.engine import Engine
from driftline.mlflow.server import start_mlflow_server
from driftline.mlflow.store import TrackingStore
from driftline.receiver.ingest import DurableLog


@dataclass
class MlflowComponent:
    runner: web.AppRunner
    engine: Engine
    port: int

    async def cleanup(self) -> None:
        await self.runner.cleanup()
        self.engine.close()


async def start_mlflow(
    cfg: DriftlineConfig,
    *,
    log: DurableLog,
    stored_through: Callable[[], int],
    written_through: int,
    flush_now: Callable[[], None],
    client_factory: Callable[[], Client],
    database: str,
) -> MlflowComponent:
    """`written_through`: the WAL's head at start, so reads after a restart wait for the
    replay of what was acknowledged before it."""
    durable = DurableWrites(
        log, stored_through, flush_now, read_timeout_s=cfg.mlflow.read_timeout_s
    )
    durable.written_through = written_through
    engine = Engine(client_factory)
    store = TrackingStore(
        durable, engine, database=database, runs=cfg.runs,
        query_timeout_s=cfg.query.max_execution_time_s,
    )  # fmt: skip
    artifact_root = Path(cfg.mlflow.artifacts_dir or Path(cfg.data_dir) / "artifacts")
    try:
        runner, port = await start_mlflow_server(
            cfg.mlflow.endpoint, store, artifact_root, cfg.query.auth_token
        )
    except BaseException:
        engine.close()
        raise
    return MlflowComponent(runner, engine, port)


class MlflowServer:
    """The MLflow API as a lifecycle component: `serve()` starts it, shutdown cleans it up."""

    def __init__(self, serve: Callable[[], Awaitable[MlflowComponent]]) -> None:
        self._serve = serve
        self._component: MlflowComponent | None = None
        self.port = 0

    async def start(self) -> None:
        self._component = await self._serve()
        self.port = self._component.port

    async def shutdown(self, grace_s: float) -> None:
        if self._component is not None:
            await self._component.cleanup()
