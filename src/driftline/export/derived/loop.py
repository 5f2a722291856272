"""The derived-signal thread: every `interval`, one round over every model, then publish.

A round never touches the ingest path: it runs on its own thread with its own ClickHouse client
(created on that thread, as clickhouse-connect asks), and only reads. Per model it queries
latency (all versions at once), then drift per version; the configured SLOs' burn rates follow.
An empty window (a model with no features, a version without reference data) is skipped
quietly and counted; any other failure of one model is logged once per (model, part, cause),
counted, and the round carries on with the next. The round's gauges are submitted to the WAL
as one OTLP metrics request (`submit`), the Snapshot is kept for /metrics, and `on_drift` hears
each drift verdict (the enrichment cache plugs in there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from clickhouse_connect.driver.client import Client
from prometheus_client import Counter

from driftline import telemetry
from driftline.analysis.drift import EmptyWindowError
from driftline.config.derived import DerivedConfig
from driftline.config.model import SloConfig
from driftline.errors import NotFoundError
from driftline.export.derived import compute
from driftline.export.derived.encode import metrics_request
from driftline.export.derived.types import ModelSnapshot, SloBurn, Snapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

OnDrift = Callable[[str, str, bool, float], None]  # (model, version, detected, share)

ROUNDS: Final = Counter(
    "driftline_derived_rounds", "Derived-signal rounds completed.", registry=telemetry.REGISTRY
)
SKIPPED: Final = Counter(
    "driftline_derived_skipped",
    "Derived computations skipped because their window held no data, by part.",
    ["part"],
    registry=telemetry.REGISTRY,
)
FAILURES: Final = Counter(
    "driftline_derived_failures",
    "Derived computations that failed (logged once per cause), by part.",
    ["part"],
    registry=telemetry.REGISTRY,
)
_EMPTY = (EmptyWindowError, NotFoundError)


class DerivedSignals:
    def __init__(
        self,
        cfg: DerivedConfig,
        connect: Callable[[], Client],
        database: str,
        submit: Callable[[bytes], object],
        *,
        slos: Sequence[SloConfig] = (),
        on_drift: OnDrift | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._cfg = cfg
        self._connect = connect
        self._database = database
        self._submit = submit
        self._slos = list(slos)
        self._on_drift = on_drift
        self._clock_ns = clock_ns
        self._client: Client | None = None
        self._logged: set[tuple[str, str, str]] = set()
        self._latest: Snapshot | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    def tick(self) -> Snapshot:
        """One round at the clock's now: compute, submit, keep. Returns the Snapshot."""
        if self._client is None:
            self._client = self._connect()
        client, db, cfg = self._client, self._database, self._cfg
        now = self._clock_ns()
        try:
            pairs = compute.recent_model_versions(client, db, cfg, now)
        except Exception as e:
            self._failed("*", "models", e)
            return Snapshot(now)
        versions: dict[str, list[str]] = {}
        for model, version in pairs:
            versions.setdefault(model, []).append(version)
        models: list[ModelSnapshot] = []
        for model, model_versions in versions.items():
            latency = self._part(
                model, "latency", compute.latency_by_version, client, db, model, cfg, now
            )
            for version in model_versions:
                drift = self._part(
                    model, "drift", compute.drift, client, db, model, version, cfg, now
                )
                quality = (
                    self._part(
                        model, "quality", compute.quality, client, db, model, version, cfg, now
                    )
                    if cfg.quality
                    else None
                )
                multivariate = (
                    self._part(
                        model,
                        "multivariate",
                        compute.multivariate,
                        client,
                        db,
                        model,
                        version,
                        cfg,
                        now,
                    )
                    if cfg.multivariate
                    else None
                )
                models.append(
                    ModelSnapshot(
                        model, version, drift, (latency or {}).get(version), quality, multivariate
                    )
                )
                if drift is not None and self._on_drift is not None:
                    try:
                        self._on_drift(model, version, drift.detected, drift.share)
                    except Exception as e:
                        self._failed(model, "on_drift", e)
        burns: list[SloBurn] = []
        for slo in self._slos:
            burns.extend(
                self._part(slo.model, "burn_rate", compute.burns, client, db, slo, now) or ()
            )
        snapshot = Snapshot(now, tuple(models), tuple(burns))
        self._latest = snapshot
        payload = metrics_request(snapshot)
        if payload:
            try:
                self._submit(payload)
            except Exception as e:  # WAL full or storage far behind: this round is not stored
                self._failed("*", "submit", e)
        ROUNDS.inc()
        return snapshot

    def _part(self, model: str, part: str, fn: Callable[..., T], *args: object) -> T | None:
        try:
            return fn(*args)
        except _EMPTY:
            SKIPPED.labels(part).inc()
            return None
        except Exception as e:
            self._failed(model, part, e)
            return None

    def _failed(self, model: str, part: str, error: Exception) -> None:
        FAILURES.labels(part).inc()
        cause = (model, part, type(error).__name__)
        if cause not in self._logged:
            self._logged.add(cause)
            log.warning(
                "derived signals: %s of model %s failed (logged once per cause): %s",
                part, model, error, exc_info=not isinstance(error, ValueError),
            )  # fmt: skip
        else:
            log.debug("derived signals: %s of model %s failed again: %s", part, model, error)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="derived", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._cfg.interval_s):
            try:
                self.tick()
            except Exception:  # a bug in a round must not end the thread
                log.exception("derived signals: round failed")

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._client is not None:
            self._client.close()
