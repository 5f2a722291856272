"""WAL gauges read at scrape time: bytes and segments on disk, the head id, and per cursor the
records and bytes not yet acknowledged (the lag of the sink and of each forwarder)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from driftline.wal import Wal


class WalCollector(Collector):
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
        yield lag_bytes
