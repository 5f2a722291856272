"""From `exporters.otlp` to running forwarders: cursors, transports, wiring to the WAL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from driftline.config.model import OtlpExporterConfig
from driftline.export.otlp.forwarder import OtlpForwarder, Transform
from driftline.export.otlp.transport import Transport
from driftline.export.otlp.transport_grpc import GrpcTransport
from driftline.export.otlp.transport_http import HttpTransport
from driftline.wal import Wal


def enabled(destinations: Sequence[OtlpExporterConfig]) -> list[OtlpExporterConfig]:
    return [d for d in destinations if d.enabled]


def forward_cursors(destinations: Sequence[OtlpExporterConfig]) -> list[str]:
    """The WAL cursors `Wal.open` must be given: one per enabled destination. A disabled or
    removed destination's cursor is forgotten; enabled again, it starts at the oldest record
    still in the WAL."""
    return [d.cursor for d in enabled(destinations)]


def transport_for(config: OtlpExporterConfig) -> Transport:
    return GrpcTransport(config) if config.protocol == "grpc" else HttpTransport(config)


def build_forwarders(
    wal: Wal,
    destinations: Sequence[OtlpExporterConfig],
    state_dir: str | Path,
    *,
    transform: Transform | None = None,
) -> list[OtlpForwarder]:
    """One forwarder per enabled destination, not started, reading `wal` (which must have
    been opened with `forward_cursors(destinations)` among its cursors)."""
    forwarders = []
    for dest in enabled(destinations):

        def lag(cursor: str = dest.cursor) -> int:
            stats = wal.stats().cursors.get(cursor)
            return stats.lag_bytes if stats is not None else 0

        forwarders.append(
            OtlpForwarder(
                wal, dest, transport_for(dest), state_dir, transform=transform, lag_bytes=lag
            )
        )
    return forwarders


def start_forwarders(
    wal: Wal,
    destinations: Sequence[OtlpExporterConfig],
    state_dir: str | Path,
    *,
    transform: Transform | None = None,
) -> list[OtlpForwarder]:
    """`build_forwarders`, each started."""
    forwarders = build_forwarders(wal, destinations, state_dir, transform=transform)
    for forwarder in forwarders:
        forwarder.start()
    return forwarders
