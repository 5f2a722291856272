"""RecordLabels → an OTLP ExportLogsServiceRequest of `ml.label` events (a pure encoder).

Labels take the same road as labels sent over OTLP (DESIGN §4): WAL first, then the sink's
ml_labels statement. So the RPC inherits the durability contract and exactly-once storage, and
there is one way labels reach the table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from driftline import semconv
from driftline.api._gen.driftline.v1 import query_pb2
from driftline.errors import InvalidInputError

SOURCE_ATTRIBUTE = "ml.label.source"


def labels_request(labels: Sequence[query_pb2.Label], now_ns: int | None = None) -> bytes:
    """Validate every label (all or nothing) and encode them as one logs request."""
    if not labels:
        raise InvalidInputError("no labels given")
    now_ns = time.time_ns() if now_ns is None else now_ns
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    scope_logs.scope.name = "driftline.RecordLabels"
    for i, label in enumerate(labels):
        problems = [
            f"{name} is empty"
            for name, value in (
                ("model_name", label.model_name),
                ("inference_id", label.inference_id),
            )
            if not value
        ]
        if label.WhichOneof("value") is None:
            problems.append("no value (number or class_name)")
        if problems:
            raise InvalidInputError(f"label {i}: " + "; ".join(problems))
        record = scope_logs.log_records.add()
        record.time_unix_nano = label.time_unix_nano or now_ns
        record.observed_time_unix_nano = now_ns
        record.event_name = semconv.ML_LABEL_EVENT_NAME
        attrs = record.attributes
        attrs.add(key=semconv.EVENT_NAME).value.string_value = semconv.ML_LABEL_EVENT_NAME
        attrs.add(key=semconv.ML_MODEL_NAME).value.string_value = label.model_name
        attrs.add(key=semconv.ML_INFERENCE_ID).value.string_value = label.inference_id
        value = attrs.add(key=semconv.ML_LABEL).value
        if label.WhichOneof("value") == "number":
            value.double_value = label.number
        else:
            value.string_value = label.class_name
        attrs.add(key=SOURCE_ATTRIBUTE).value.string_value = "api"
    return request.SerializeToString()
