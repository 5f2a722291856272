"""Alert transitions as OTLP log events (`event.name = driftline.alert`), and as JSON.

The events go into driftline's own WAL like any received log, so they are stored in otel_logs
(searchable with `driftline logs`) and forwarded to every destination that takes logs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from driftline.alerts.state import Transition

EVENT_NAME = "driftline.alert"
# OTLP SeverityNumber: WARN for firing warnings, ERROR for critical, INFO for resolved.
_SEVERITY = {"info": (9, "INFO"), "warning": (13, "WARN"), "critical": (17, "ERROR")}


def transition_json(t: Transition) -> dict[str, Any]:
    rule = t.rule
    return {
        "alert": rule.name,
        "status": t.status,
        "severity": rule.severity,
        "model": rule.model,
        "version": rule.version,
        "kind": rule.kind,
        "feature": rule.feature,
        "window": rule.effective_window,
        "value": t.value,
        "threshold": rule.threshold,
        "at_unix": t.at,
        "fired_at_unix": t.fired_at,
        "labels": dict(rule.labels),
    }


def _kv(key: str, value: object) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = str(value)
    return kv


def transitions_request(
    transitions: Sequence[Transition], service_name: str = "driftline"
) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(_kv("service.name", service_name))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "driftline.alerts"
    now_ns = time.time_ns()
    for t in transitions:
        rule = t.rule
        record = scope_logs.log_records.add()
        record.time_unix_nano = int(t.at * 1e9)
        record.observed_time_unix_nano = now_ns
        record.event_name = EVENT_NAME
        number, text = (
            _SEVERITY["info"]
            if t.status == "resolved"
            else _SEVERITY.get(rule.severity, _SEVERITY["warning"])
        )
        record.severity_number, record.severity_text = number, text  # type: ignore[assignment]
        verb = "firing" if t.status == "firing" else "resolved"
        record.body.string_value = (
            f"[{verb}] {rule.name}: {rule.kind} of {rule.model} is {t.value:.4g} "
            f"(threshold {rule.threshold:g})"
        )
        attrs = record.attributes
        attrs.append(_kv("event.name", EVENT_NAME))
        attrs.append(_kv("ml.model.name", rule.model))
        for key, value in transition_json(t).items():
            if key == "labels":
                attrs.extend(_kv(f"driftline.alert.label.{k}", v) for k, v in value.items())
            elif value != "":
                attrs.append(_kv(f"driftline.alert.{key}", value))
    return request.SerializeToString()
