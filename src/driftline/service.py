"""Wiring: config → components started in order → run → shut down in reverse.

Start order follows the Collector's rule (consumers before producers): the WAL, the sink and
the OTLP forwarders (one WAL cursor each) run before any receiver accepts data.

    WAL → inserter → ClickHouse sink → forwarders → drain → OTLP gRPC → OTLP HTTP → query API
        → derived signals → alerts → /metrics

Each is a `lifecycle.Component`; `start()` adds them one by one inside `Lifecycle.starting()`,
so a failing step unwinds the ones before it (the WAL's lock released, every thread joined)
and re-raises. Shutdown runs the same list in reverse: receivers stop accepting and finish
in-flight requests, the drain gives the sink and forwarders the rest of the grace period to
catch up, they stop, the WAL is flushed and closed. Anything not yet in ClickHouse or at a
destination stays in the WAL for the next start.

Adding a component is one line in `start()`: `await lc.start(MyServer(...), "my-server")`
with anything that has `start()` and `shutdown(grace_s)` (plain or async), at the place in the
order where what it needs already runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from driftline import telemetry
from driftline.components.backpressure import BackpressureLog
from driftline.components.pipeline import Drain, WalComponent
from driftline.components.servers import GrpcServer, HttpRunner, MetricsServer
from driftline.components.wal_metrics import WalCollector
from driftline.config.model import DriftlineConfig
from driftline.console.server import start_console_server
from driftline.export.clickhouse.sink import CURSOR as CLICKHOUSE_CURSOR
from driftline.export.clickhouse.sink import ClickHouseSink
from driftline.export.otlp import OtlpForwarder, Transform, build_forwarders, forward_cursors
from driftline.export.records import Record
from driftline.lifecycle import Hooks, Lifecycle
from driftline.mlflow.component import MlflowServer, start_mlflow
from driftline.processors import (
    DriftVerdictCache,
    build_forward_transform,
    build_ingest_transform,
)
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.inserter import ProtobufInserter
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext
from driftline.wal import Wal

log = logging.getLogger("driftline")

DriftListener = Callable[[str, str, bool, float], None]


@dataclass
class RunningService:
    """Handles to what `start()` built; `endpoints` holds the bound addresses."""

    config: DriftlineConfig
    wal: Wal
    sink: ClickHouseSink
    lifecycle: Lifecycle
    endpoints: dict[str, str] = field(default_factory=dict)
    forwarders: list[OtlpForwarder] = field(default_factory=list)
    # Called after each derived drift computation with (model, version, detected, share),
    # e.g. by the enrichment cache; the first round runs one `derived.interval` after start.
    drift_listeners: list[DriftListener] = field(default_factory=list)
    # Latest drift verdict per model: the derived drift rounds update it, enrichment reads it.
    drift_cache: DriftVerdictCache = field(default_factory=DriftVerdictCache)

    def on_drift(self, model: str, version: str, detected: bool, share: float) -> None:
        for listener in self.drift_listeners:
            listener(model, version, detected, share)


def _submitter(durable: BackpressureLog, kind: Signal) -> Callable[[bytes], None]:
    """Append a payload driftline made itself, and wait until it is durable."""

    def submit(payload: bytes) -> None:
        durable.submit(int(kind), payload).result(timeout=60)

    return submit


async def _start_monitors(
    lc: Lifecycle,
    cfg: DriftlineConfig,
    target: Target,
    durable: BackpressureLog,
    service: RunningService,
) -> None:
    """Derived signals and alerts: read-only threads with their own clients, writing back
    into the WAL like a receiver (so their output is stored and forwarded like any signal)."""
    from driftline.alerts.engine import AlertEngine
    from driftline.alerts.measure import Measurer
    from driftline.export.derived import DerivedCollector, DerivedSignals

    if cfg.derived.enabled:
        derived = DerivedSignals(
            cfg.derived,
            lambda: connect(target),
            target.database,
            _submitter(durable, Signal.METRICS),
            slos=cfg.analysis.slos,
            on_drift=service.on_drift,
        )
        collector = DerivedCollector(lambda: derived.latest)
        await lc.start(
            Hooks(
                on_start=lambda: telemetry.REGISTRY.register(collector),
                on_shutdown=lambda grace_s: telemetry.REGISTRY.unregister(collector),
            ),
            "derived-metrics",
        )
        await lc.start(derived, "derived")
    alerts = cfg.alerts
    if alerts.rules:
        engine = AlertEngine(
            alerts.rules,
            Measurer(
                lambda: connect(target),
                target.database,
                slos=cfg.analysis.slos,
                reference_s=cfg.derived.drift.reference_s,
            ),
            _submitter(durable, Signal.LOGS),
            webhook_url=alerts.webhook.url,
            webhook_headers=alerts.webhook.headers,
            webhook_timeout_s=alerts.webhook.timeout_s,
            webhook_attempts=alerts.webhook.retries + 1,
            interval_s=alerts.evaluation_interval_s,
        )
        await lc.start(Hooks(engine.start, lambda grace_s: engine.stop()), "alerts")


def _host(endpoint: str) -> str:
    return endpoint.rpartition(":")[0]


def _set_aside(directory: Path) -> Callable[[Record, str], None]:
    def write(record: Record, reason: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{record.id:020d}.pb").write_bytes(record.payload)
        (directory / f"{record.id:020d}.txt").write_text(reason)
        log.error(
            "WAL record %d refused by ClickHouse, set aside in %s: %s", record.id, directory, reason
        )

    return write


async def start(
    cfg: DriftlineConfig, *, forward_transform: Transform | None = None
) -> RunningService:
    """Start every component in order; on a failure, stop the started ones and re-raise."""
    lc = Lifecycle()
    async with lc.starting():
        return await _start_all(lc, cfg, forward_transform)


async def _start_all(
    lc: Lifecycle, cfg: DriftlineConfig, forward_transform: Transform | None
) -> RunningService:
    # Imports of the servers stay local: they pull in grpc/aiohttp, which the CLI's
    # check-config path does not need.
    from driftline.api.server import start_query_server
    from driftline.receiver.ingest import TransformingLog
    from driftline.receiver.otlp_grpc import start_otlp_grpc_server
    from driftline.receiver.otlp_http import start_otlp_http_server

    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    forwarding = cfg.exporters.otlp
    cursors = [CLICKHOUSE_CURSOR, *forward_cursors(forwarding)]
    wal = (await lc.start(WalComponent(cfg.wal, cfg.wal_dir, cursors), "wal")).wal
    ch = cfg.exporters.clickhouse
    target = Target.from_config(ch, cfg.clickhouse_dir)
    client = connect(target)
    if ch.create_schema:
        migrate(client, DdlContext.from_config(ch))
    # Two insert lanes: a trace batch's OTel table and ML tables are built on both cores.
    inserter = ProtobufInserter(client, target, data_dir / "tmp", extra_clients=[connect(target)])
    await lc.start(Hooks(on_shutdown=lambda grace_s: inserter.close()), "inserter")
    sink = ClickHouseSink(
        wal, inserter, ch, data_dir / "state", on_set_aside=_set_aside(data_dir / "rejected")
    )
    await lc.start(sink, "clickhouse-sink")
    service = RunningService(cfg, wal, sink, lc)
    service.drift_listeners.append(
        lambda model, version, detected, share: service.drift_cache.update(
            model, version, detected, share, time.time()
        )
    )
    # Enrichment of forwarded spans (processors.enrichment, apply_to: forward); None: the WAL's
    # bytes go out as they are.
    if forward_transform is None:
        forward_transform = build_forward_transform(cfg, service.drift_cache)
    # Each destination reads its own cursor; none of them is watched by the backpressure below.
    for forwarder in build_forwarders(
        wal, forwarding, data_dir / "state", transform=forward_transform
    ):
        service.forwarders.append(await lc.start(forwarder, f"forwarder {forwarder.name}"))
    await lc.start(Drain(wal), "drain")

    durable = BackpressureLog(wal, ch.max_lag_mib << 20, cfg.wal.retry_after_s)
    otlp = cfg.receivers.otlp
    # Redaction (and enrichment with apply_to: both) before the WAL; None: nothing configured.
    ingest_transform = build_ingest_transform(cfg, service.drift_cache)
    grpc_server = await lc.start(
        GrpcServer(
            lambda: start_otlp_grpc_server(
                durable, otlp, transform=ingest_transform, ready=wal.health
            )
        ),
        "otlp-grpc",
    )
    service.endpoints["otlp_grpc"] = f"{_host(otlp.protocols.grpc.endpoint)}:{grpc_server.port}"
    http_runner = await lc.start(
        HttpRunner(
            lambda: start_otlp_http_server(
                durable, otlp, transform=ingest_transform, ready=wal.health
            )
        ),
        "otlp-http",
    )
    service.endpoints["otlp_http"] = f"{_host(otlp.protocols.http.endpoint)}:{http_runner.port}"

    # Labels recorded through the query API reach the WAL past the receivers: same transform.
    label_log = durable if ingest_transform is None else TransformingLog(durable, ingest_transform)
    query_server = await lc.start(
        GrpcServer(
            lambda: start_query_server(
                cfg.query,
                lambda: connect(target),
                label_log=label_log,
                database=target.database,
                slos=cfg.analysis.slos,
                runs=cfg.runs,
            )
        ),
        "query-api",
    )
    service.endpoints["query_grpc"] = f"{_host(cfg.query.endpoint)}:{query_server.port}"
    if cfg.mlflow.enabled:  # MLflow's tracking API (driftline.mlflow): writes via the WAL
        mlflow = await lc.start(
            MlflowServer(
                lambda: start_mlflow(
                    cfg, log=label_log, client_factory=lambda: connect(target),
                    database=target.database,
                    stored_through=lambda: wal.stats().cursors[CLICKHOUSE_CURSOR].acked_through,
                    written_through=wal.stats().head_id, flush_now=sink.flush_now,
                )
            ),
            "mlflow",
        )  # fmt: skip
        service.endpoints["mlflow"] = f"{_host(cfg.mlflow.endpoint)}:{mlflow.port}"
    if cfg.console.enabled:  # the web console asks the query API like any client
        tls_ca = cfg.query.tls.cert_file if cfg.query.tls.enabled else ""
        query_endpoint = service.endpoints["query_grpc"]
        console = await lc.start(
            HttpRunner(
                lambda: start_console_server(
                    cfg.console.endpoint, query_endpoint, cfg.query.auth_token, tls_ca=tls_ca
                )
            ),
            "console",
        )
        service.endpoints["console"] = f"{_host(cfg.console.endpoint)}:{console.port}"
    await _start_monitors(lc, cfg, target, durable, service)

    metrics_host, _, metrics_port = cfg.telemetry.metrics_endpoint.rpartition(":")
    metrics = await lc.start(
        MetricsServer(metrics_host, int(metrics_port), telemetry.REGISTRY, [WalCollector(wal)]),
        "metrics",
    )
    service.endpoints["metrics"] = f"{metrics_host}:{metrics.port}"

    (data_dir / "endpoints.json").write_text(json.dumps(service.endpoints))
    log.info(
        "driftline ready: %s",
        " ".join(f"{k}={v}" for k, v in service.endpoints.items()),
    )
    return service


async def stop(service: RunningService, grace_s: float = 10.0) -> None:
    await service.lifecycle.shutdown(grace_s)
    log.info("driftline stopped")


async def serve(cfg: DriftlineConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    service = await start(cfg)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("driftline: signal received, draining")
    await stop(service)


def pid_file(data_dir: str) -> Path:
    return Path(data_dir) / f"driftline.{os.getpid()}.pid"
