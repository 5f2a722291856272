"""The whole forwarding path from config, with rotel (a real third-party collector) downstream:

    OTel SDK ──▶ driftline serve ──redaction──▶ WAL ──▶ ClickHouse
                                                  └──▶ forwarder ──enrichment──▶ rotel ──▶ sink

Spans of a model whose feature shifted are sent; once a derived round has judged the drift,
more spans follow. What rotel passes on carries the model identity normalised from `gen_ai.*`,
the SLO verdict per span, the drift verdict from the derived round's cache, a static attribute
— and neither the forwarded spans nor the stored rows contain the redacted e-mail address.
"""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftline.signals import Signal
from tests.otlp_sink import OtlpSink
from tests.rotel_agent import RotelAgent
from tests.serve import ServerProcess

pytest.importorskip("rotel")
pytestmark = pytest.mark.integration

MIN = 60 * 10**9
EMAIL = "jane.doe@example.com"


def _attrs(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        which = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, which) if which else None
    return out


def _forwarded(sink: OtlpSink) -> dict[str, dict[str, Any]]:
    """Forwarded spans by their `n` attribute."""
    return {
        str(_attrs(span)["n"]): _attrs(span)
        for r in sink.requests()
        if r.signal is Signal.TRACES and r.request is not None
        for rs in r.request.resource_spans  # type: ignore[attr-defined]
        for ss in rs.scope_spans
        for span in ss.spans
    }


def _send(endpoint: str, spans: list[dict[str, Any]], **resource: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-api", **resource}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True), max_queue_size=8192)
    )
    tracer = provider.get_tracer("test")
    for s in spans:
        span = tracer.start_span("predict", start_time=s["start"])
        span.set_attributes(s["attributes"])
        span.end(end_time=s["start"] + s["duration"])
    provider.shutdown()


def _drift_detected(metrics_endpoint: str) -> bool:
    with urllib.request.urlopen(f"http://{metrics_endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    return any(
        line.startswith("driftline_drift_detected{") and 'model="fraud"' in line
        and line.rstrip().endswith(" 1.0")
        for line in text.splitlines()
    )  # fmt: skip


def test_forwarded_spans_are_enriched_and_redacted_from_config(
    tmp_path: Path, rotel: RotelAgent, sink: OtlpSink
) -> None:
    config = f"""
analysis:
  slos: [{{model: fraud, latency: 50ms, target: 0.99}}]
processors:
  redaction:
    patterns: [{{name: email}}]
    hash_keys: [user.id]
  enrichment:
    normalize_model: true
    slo: true
    drift: true
    static_attributes: {{span: {{deployment.region: eu-1}}}}
derived:
  enabled: true
  interval: 1s
  drift: {{window: 30m, reference: 1h}}
exporters:
  otlp:
    - {{name: rotel, endpoint: "127.0.0.1:{rotel.grpc_port}", tls: {{insecure: true}},
        signals: [traces], compression: none}}
"""
    rng = np.random.default_rng(3)
    now = time.time_ns()
    first = []
    for i in range(1600):  # reference 90-30 min ago, current the last 30 min: `amount` shifted
        current = i % 2 == 1
        age = int(rng.integers(1 * MIN, 29 * MIN)) if current else int(rng.integers(31, 89) * MIN)
        first.append({
            "start": now - age, "duration": 10_000_000,
            "attributes": {
                "n": i, "ml.model.name": "fraud", "ml.model.version": "1",
                "ml.feature.amount": float(rng.normal(3.0 if current else 0.0, 1.0)),
                "ml.feature.tenure": float(rng.normal(5.0, 1.0)),
            },
        })  # fmt: skip
    # after the verdict: identity only from gen_ai.*, a slow and a fast one, personal data
    second = [
        {"start": time.time_ns() - MIN, "duration": d * 1_000_000,
         "attributes": {"n": n, "gen_ai.request.model": "fraud",
                        "ml.feature.amount": 3.0, "note": f"mail {EMAIL} please",
                        "user.id": "u-42"}}
        for n, d in ((5000, 120), (5001, 5))
    ]  # fmt: skip
    with ServerProcess(tmp_path / "data", config=config) as server:
        _send(server.endpoints["otlp_grpc"], first)
        assert sink.wait_items(1600, timeout_s=60) == 1600
        deadline = time.monotonic() + 60
        while not _drift_detected(server.endpoints["metrics"]):
            assert time.monotonic() < deadline, "no derived drift verdict for fraud"
            time.sleep(0.3)
        second[0]["start"] = second[1]["start"] = time.time_ns() - MIN
        _send(server.endpoints["otlp_grpc"], second, **{"service.version": "1"})
        assert sink.wait_items(1602, timeout_s=60) == 1602
        got = _forwarded(sink)
        slow, fast = got["5000"], got["5001"]
        for span in (slow, fast):
            assert span["ml.model.name"] == "fraud" and span["ml.model.version"] == "1"
            assert span["driftline.drift.detected"] is True
            assert 0.4 < span["driftline.drift.share"] <= 1.0  # amount drifted, tenure not
            assert span["deployment.region"] == "eu-1"
            assert EMAIL not in span["note"] and "[redacted:email]" in span["note"]
            assert span["user.id"] == "sha256:" + hashlib.sha256(b"u-42").hexdigest()
        assert slow["driftline.slo.breached"] is True
        assert fast["driftline.slo.breached"] is False
        assert "driftline.drift.detected" not in got["0"]  # forwarded before any verdict
        assert "fraud" in rotel.log()  # rotel decoded them itself
        # stored: redacted as well (it happened before the WAL), enrichment only forwarded
        server.wait_for("SELECT count() FROM otel_traces", 1602)
        stored = server.sql(
            "SELECT SpanAttributes['note'], SpanAttributes['user.id'], "
            "mapContains(SpanAttributes, 'driftline.drift.detected') FROM otel_traces "
            "WHERE SpanAttributes['n'] = '5000'"
        )
        assert stored == [[slow["note"], slow["user.id"], False]]
        leaked = "SELECT count() FROM otel_traces WHERE position(SpanAttributes['note'], '@') > 0"
        assert server.scalar(leaked) == 0
