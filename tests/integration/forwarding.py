"""Helpers for the forwarder tests (fixtures wrap them): a real WAL, the in-process OTLP sink,
forwarders on both."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from driftline.config.model import OtlpExporterConfig, RetryConfig, WalConfig
from driftline.export.otlp.build import start_forwarders
from driftline.export.otlp.forwarder import OtlpForwarder
from driftline.telemetry import REGISTRY
from driftline.wal import Wal
from tests.otlp_sink import OtlpSink

_names = itertools.count()
FAST_RETRY = RetryConfig(initial_interval_s=0.05, max_interval_s=0.2, randomization_factor=0.1)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"driftline_exporter_{name}_total", labels) or 0.0


def wait_until(check: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def running_sink() -> Iterator[OtlpSink]:
    s = OtlpSink().start(0, 0)
    yield s
    s.close()


class Harness:
    """One WAL directory; forwarders started on it; everything stopped at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.wal_config = WalConfig(sync="never", segment_size_mib=1, max_size_mib=16)
        self.wal: Wal | None = None
        self.forwarders: list[OtlpForwarder] = []

    def dest(self, endpoint: str, **kw: Any) -> OtlpExporterConfig:
        kw.setdefault("retry_on_failure", FAST_RETRY)
        kw.setdefault("compression", "none")
        kw.setdefault("tls", replace(OtlpExporterConfig().tls, insecure=True))
        return OtlpExporterConfig(name=f"t{next(_names)}", endpoint=endpoint, **kw)

    def open(self, *dests: OtlpExporterConfig) -> Wal:
        self.wal = Wal.open(self.wal_config, self.dir / "wal", [d.cursor for d in dests])
        return self.wal

    def start(self, *dests: OtlpExporterConfig, **kw: Any) -> list[OtlpForwarder]:
        assert self.wal is not None
        started = start_forwarders(self.wal, dests, self.dir / "state", **kw)
        self.forwarders += started
        return started

    def lag(self, dest: OtlpExporterConfig) -> int:
        assert self.wal is not None
        return self.wal.stats().cursors[dest.cursor].lag_records

    def fresh(self) -> None:
        """Close everything and continue in a new, empty directory."""
        self.close()
        self.dir = self.dir / "next"

    def close(self) -> None:
        for f in self.forwarders:
            f.stop(2.0)
        self.forwarders.clear()
        if self.wal is not None:
            self.wal.close()
            self.wal = None


def running_harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()
