"""Wiring: config → WAL → ClickHouse sink → receivers → query API → /metrics; run; shut down.

Start order follows the Collector's rule (consumers before producers): the WAL, the sink and
the OTLP forwarders (one WAL cursor each) exist before any receiver accepts data. Shutdown runs
in reverse: receivers stop accepting and finish in-flight requests, the sink and forwarders
drain what they can within the grace period, the WAL is flushed and closed. Anything not yet in
ClickHouse or at a destination stays in the WAL for the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from driftline import telemetry
from driftline.config.model import DriftlineConfig
from driftline.errors import WalFullError
from driftline.export.clickhouse.sink import CURSOR as CLICKHOUSE_CURSOR
from driftline.export.clickhouse.sink import ClickHouseSink
from driftline.export.otlp import OtlpForwarder, Transform, forward_cursors, start_forwarders
from driftline.export.records import Record
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

_LAG_CHECK_INTERVAL_S = 0.1


class BackpressureLog:
    """The receivers' durable log: the WAL, refusing new data (retryably) while the ClickHouse
    sink lags the head by more than `max_lag_bytes` — "storage far behind" — or the WAL is full."""

    def __init__(self, wal: Wal, max_lag_bytes: int, retry_after_s: float) -> None:
        self._wal = wal
        self._max_lag = max_lag_bytes
        self._retry_after_s = retry_after_s
        self._checked_at = 0.0
        self._lagging = False
        self._lock = threading.Lock()

    def _storage_lagging(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= _LAG_CHECK_INTERVAL_S:
            with self._lock:
                if now - self._checked_at >= _LAG_CHECK_INTERVAL_S:
                    stats = self._wal.stats()
                    cursor = stats.cursors.get(CLICKHOUSE_CURSOR)
                    self._lagging = cursor is not None and cursor.lag_bytes > self._max_lag
                    self._checked_at = now
        return self._lagging

    def submit(self, kind: int, payload: bytes) -> Future[int]:
        if self._storage_lagging():
            raise WalFullError("storage is far behind; retry later", delay_s=self._retry_after_s)
        return self._wal.submit(kind, payload)


class WalCollector(Collector):
    """WAL gauges read at scrape time."""

    def __init__(self, wal: Wal) -> None:
        self._wal = wal

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._wal.stats()
        yield GaugeMetricFamily(
            "driftline_wal_bytes", "Bytes of WAL segments on disk.", value=stats.total_bytes
        )
        yield GaugeMetricFamily(
            "driftline_wal_segments", "WAL segment files on disk.", value=stats.segments
        )
        yield GaugeMetricFamily(
            "driftline_wal_head_id", "Last durable WAL record id.", value=stats.head_id
        )
        lag_records = GaugeMetricFamily(
            "driftline_wal_cursor_lag_records",
            "Records not yet acknowledged by a consumer.",
            labels=["cursor"],
        )
        lag_bytes = GaugeMetricFamily(
            "driftline_wal_cursor_lag_bytes",
            "Bytes not yet acknowledged by a consumer.",
            labels=["cursor"],
        )
        for name, cursor in stats.cursors.items():
            lag_records.add_metric([name], cursor.lag_records)
            lag_bytes.add_metric([name], cursor.lag_bytes)
        yield lag_records
        yield lag_bytes  # fmt: skip


@dataclass
class RunningService:
    """Handles to everything `start()` built; `endpoints` holds the bound addresses."""

    config: DriftlineConfig
    wal: Wal
    sink: ClickHouseSink
    endpoints: dict[str, str] = field(default_factory=dict)
    closers: list[Any] = field(default_factory=list)
    derived: Any = None  # export.derived.DerivedSignals when derived.enabled
    alerts: Any = None  # alerts.engine.AlertEngine when alerts.rules
    # Called after each derived drift computation with (model, version, detected, share),
    # e.g. by the enrichment cache; the first round runs one `derived.interval` after start.
    drift_listeners: list[Any] = field(default_factory=list)
    forwarders: list[OtlpForwarder] = field(default_factory=list)
    # Latest drift verdict per model: the derived drift rounds update it, enrichment reads it.
    drift_cache: DriftVerdictCache = field(default_factory=DriftVerdictCache)

    def on_drift(self, model: str, version: str, detected: bool, share: float) -> None:
        for listener in self.drift_listeners:
            listener(model, version, detected, share)


def _submitter(durable: BackpressureLog, kind: Signal) -> Any:
    """Append a payload driftline made itself, and wait until it is durable."""

    def submit(payload: bytes) -> None:
        durable.submit(int(kind), payload).result(timeout=60)

    return submit


def _start_monitors(
    cfg: DriftlineConfig, target: Target, durable: BackpressureLog, service: RunningService
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
        telemetry.REGISTRY.register(collector)
        derived.start()
        service.derived = derived
        service.closers.append(derived)
        service.closers.append(_Unregister(collector))
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
        engine.start()
        service.alerts = engine
        service.closers.append(engine)


async def _start_console(cfg: DriftlineConfig, service: RunningService, query_server: Any) -> None:
    """The web console (console/): an HTTP server that asks the query API like any client.
    It stops before the query server (it is one of its clients)."""
    if not cfg.console.enabled:
        return
    from driftline.console.server import start_console_server

    tls_ca = cfg.query.tls.cert_file if cfg.query.tls.enabled else ""
    runner, port = await start_console_server(
        cfg.console.endpoint, service.endpoints["query_grpc"], cfg.query.auth_token, tls_ca=tls_ca
    )
    service.closers.insert(service.closers.index(query_server), runner)
    service.endpoints["console"] = f"{_host(cfg.console.endpoint)}:{port}"


class _Unregister:
    def __init__(self, collector: Collector) -> None:
        self._collector = collector

    def shutdown(self) -> None:
        telemetry.REGISTRY.unregister(self._collector)


def _host(endpoint: str) -> str:
    return endpoint.rpartition(":")[0]


def _set_aside(directory: Path) -> Any:
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
    # Imports of the servers stay local: they pull in grpc/aiohttp, which the CLI's
    # check-config path does not need.
    from driftline.api.server import start_query_server
    from driftline.receiver.ingest import TransformingLog
    from driftline.receiver.otlp_grpc import start_otlp_grpc_server
    from driftline.receiver.otlp_http import start_otlp_http_server

    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    forwarding = cfg.exporters.otlp
    wal = Wal.open(cfg.wal, cfg.wal_dir, cursors=[CLICKHOUSE_CURSOR, *forward_cursors(forwarding)])
    ch = cfg.exporters.clickhouse
    target = Target.from_config(ch, cfg.clickhouse_dir)
    client = connect(target)
    if ch.create_schema:
        migrate(client, DdlContext.from_config(ch))
    # Two insert lanes: a trace batch's OTel table and ML tables are built on both cores.
    inserter = ProtobufInserter(client, target, data_dir / "tmp", extra_clients=[connect(target)])
    sink = ClickHouseSink(
        wal, inserter, ch, data_dir / "state", on_set_aside=_set_aside(data_dir / "rejected")
    )
    sink.start()
    service = RunningService(cfg, wal, sink)
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
    service.forwarders = start_forwarders(
        wal, forwarding, data_dir / "state", transform=forward_transform
    )

    durable = BackpressureLog(wal, ch.max_lag_mib << 20, cfg.wal.retry_after_s)
    otlp = cfg.receivers.otlp
    # Redaction (and enrichment with apply_to: both) before the WAL; None: nothing configured.
    ingest_transform = build_ingest_transform(cfg, service.drift_cache)
    grpc_server, grpc_port = await start_otlp_grpc_server(durable, otlp, transform=ingest_transform)
    service.closers.append(grpc_server)
    service.endpoints["otlp_grpc"] = f"{_host(otlp.protocols.grpc.endpoint)}:{grpc_port}"
    http_runner, http_port = await start_otlp_http_server(durable, otlp, transform=ingest_transform)
    service.closers.append(http_runner)
    service.endpoints["otlp_http"] = f"{_host(otlp.protocols.http.endpoint)}:{http_port}"

    # Labels recorded through the query API reach the WAL past the receivers: same transform.
    label_log = durable if ingest_transform is None else TransformingLog(durable, ingest_transform)
    query_server, query_port = await start_query_server(
        cfg.query,
        lambda: connect(target),
        label_log=label_log,
        database=target.database,
        slos=cfg.analysis.slos,
        runs=cfg.runs,
    )
    service.closers.append(query_server)
    service.endpoints["query_grpc"] = f"{_host(cfg.query.endpoint)}:{query_port}"
    await _start_console(cfg, service, query_server)
    _start_monitors(cfg, target, durable, service)

    metrics_host, _, metrics_port = cfg.telemetry.metrics_endpoint.rpartition(":")
    telemetry.REGISTRY.register(WalCollector(wal))
    metrics_server, _thread = start_http_server(
        int(metrics_port), addr=metrics_host, registry=telemetry.REGISTRY
    )
    service.closers.append(metrics_server)
    service.endpoints["metrics"] = f"{metrics_host}:{metrics_server.server_port}"

    (data_dir / "endpoints.json").write_text(json.dumps(service.endpoints))
    log.info(
        "driftline ready: %s",
        " ".join(f"{k}={v}" for k, v in service.endpoints.items()),
    )
    return service


async def stop(service: RunningService, grace_s: float = 10.0) -> None:
    for closer in service.closers:
        if hasattr(closer, "stop") and asyncio.iscoroutinefunction(closer.stop):
            await closer.stop(grace_s)  # grpc.aio servers: finish in-flight RPCs
        elif hasattr(closer, "cleanup"):
            await closer.cleanup()  # aiohttp runner
        elif hasattr(closer, "shutdown"):
            closer.shutdown()  # prometheus HTTP server
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        # Every consumer (the sink and each forwarder) drains within the same grace period.
        if all(c.lag_records == 0 for c in service.wal.stats().cursors.values()):
            break
        await asyncio.sleep(0.05)
    for forwarder in service.forwarders:
        forwarder.stop(timeout_s=max(1.0, deadline - time.monotonic()))
    service.sink.stop()
    service.wal.close()
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
