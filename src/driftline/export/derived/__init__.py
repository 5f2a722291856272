"""Derived signals: each model's drift, latency, error rate and burn rates, computed on an
interval and emitted as OTLP gauges into driftline's own WAL (stored in otel_metrics_gauge and
forwarded like any metric), and served on /metrics for Prometheus.

types.py       what one round computed (a `Snapshot`), plain frozen data
compute.py     the analytics queries behind one model (analysis/ does the math, storage/ the SQL)
series.py      a Snapshot flattened into named gauge series: the one table of metric names
encode.py      series → ExportMetricsServiceRequest bytes (pure, no I/O)
prometheus.py  a Collector serving the latest Snapshot's series on /metrics
loop.py        the thread: every interval, compute every model, submit, keep the latest
"""

from driftline.export.derived.loop import DerivedSignals, OnDrift
from driftline.export.derived.prometheus import DerivedCollector

__all__ = ["DerivedCollector", "DerivedSignals", "OnDrift"]
