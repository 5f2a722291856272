"""driftline.client: the query API from Python (notebooks, scripts, the web console).

    from driftline.client import Client
    client = Client("127.0.0.1:4319", token=None)       # token: $DRIFTLINE_QUERY_TOKEN
    client.drift("fraud", since="1h").to_pandas()

Stands alone: imports grpc, protobuf, the generated stubs and the standard library (pandas and
pyarrow only when asked for a DataFrame or a Parquet file) — none of the collector's engine.
"""

from driftline.client.client import Client, QueryError
from driftline.client.labels import LabelError, read_label_file
from driftline.client.types import (
    Drift,
    DriftWindow,
    FeatureDrift,
    Latency,
    LatencyGroup,
    LogRecord,
    ModelVersion,
    Performance,
    PerformanceGroup,
    Run,
    RunMetrics,
    RunsPage,
    SavedReference,
    Span,
    Table,
)

__all__ = [
    "Client",
    "Drift",
    "DriftWindow",
    "FeatureDrift",
    "LabelError",
    "Latency",
    "LatencyGroup",
    "LogRecord",
    "ModelVersion",
    "Performance",
    "PerformanceGroup",
    "QueryError",
    "Run",
    "RunMetrics",
    "RunsPage",
    "SavedReference",
    "Span",
    "Table",
    "read_label_file",
]
