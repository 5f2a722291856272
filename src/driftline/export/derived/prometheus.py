"""The latest derived round on /metrics: a Collector that renders it at scrape time.

Nothing is computed on a scrape; it reads whatever Snapshot the loop kept last (none before the
first round: no samples). Names and labels come from series.py, so they match the OTLP gauges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from driftline.export.derived.series import series
from driftline.export.derived.types import Snapshot


class DerivedCollector(Collector):
    def __init__(self, latest: Callable[[], Snapshot | None]) -> None:
        self._latest = latest

    def describe(self) -> list[GaugeMetricFamily]:
        # Samples come and go with models; registering needs no names up front.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self._latest()
        if snapshot is None:
            return
        for spec, points in series(snapshot).items():
            family = GaugeMetricFamily(
                spec.prometheus_name, spec.description, labels=list(spec.labels)
            )
            for labels, value in points:
                family.add_metric(list(labels), value)
            yield family
