"""driftline: an OpenTelemetry collector for machine-learning inference.

OTLP in (gRPC :4317, HTTP :4318) → write-ahead log (durable before OK) → ClickHouse,
with a gRPC query API on :4319. See DESIGN.md in the repository for the data flow.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
