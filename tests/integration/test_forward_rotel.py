"""rotel, a real third-party OTLP collector, as the downstream of driftline's forwarding.

    OTel SDK ──▶ driftline serve ──OTLP/gRPC──▶ rotel ──OTLP──▶ in-process sink
    WAL ──▶ forwarder ──OTLP/HTTP protobuf──▶ rotel ──OTLP──▶ in-process sink

rotel's debug log shows what it received; the sink behind it counts precisely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftline.signals import Signal
from tests.integration.forwarding import Harness, running_harness, wait_until
from tests.otlp_sink import OtlpSink
from tests.rotel_agent import RotelAgent
from tests.serve import ServerProcess
from tests.unit.export.otlp import otlp_requests

pytest.importorskip("rotel")
pytestmark = pytest.mark.integration


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from running_harness(tmp_path)


def _spans(sink: OtlpSink) -> list[Message]:
    return [
        span
        for r in sink.requests()
        if r.signal is Signal.TRACES and r.request is not None
        for rs in r.request.resource_spans  # type: ignore[attr-defined]
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def test_driftline_serve_forwards_sdk_spans_through_rotel(
    tmp_path: Path, rotel: RotelAgent, sink: OtlpSink
) -> None:
    config = f"""
exporters:
  otlp:
    - name: rotel
      endpoint: 127.0.0.1:{rotel.grpc_port}
      tls: {{insecure: true}}
      signals: [traces]
"""
    with ServerProcess(tmp_path / "data", config=config) as server:
        provider = TracerProvider(resource=Resource.create({"service.name": "fraud-api"}))
        exporter = OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("test")
        for i in range(300):
            with tracer.start_as_current_span("predict") as span:
                span.set_attribute("ml.model.name", "fraud")
                span.set_attribute("ml.feature.amount", float(i))
        provider.shutdown()
        assert sink.wait_items(300, timeout_s=60) == 300
        spans = _spans(sink)
        assert sorted(
            a.value.double_value
            for s in spans
            for a in s.attributes
            if a.key == "ml.feature.amount"
        ) == [float(i) for i in range(300)]
        assert all(
            any(a.key == "ml.model.name" and a.value.string_value == "fraud" for a in s.attributes)
            for s in spans
        )
        # rotel saw them itself (its debug log), not only passed bytes on
        deadline = time.monotonic() + 10
        while "fraud" not in rotel.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "predict" in rotel.log() and "fraud" in rotel.log()
        assert server.wait_for("SELECT count() FROM otel_traces", 300) == 300  # stored too


def test_otlp_http_forwarding_into_rotel_carries_transformed_attributes(
    harness: Harness, rotel: RotelAgent, sink: OtlpSink
) -> None:
    def tag(signal: Signal, request: Message) -> None:
        for rs in request.resource_spans:  # type: ignore[attr-defined]
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.attributes.add(key="driftline.forwarded").value.string_value = "yes"

    dest = harness.dest(
        f"http://127.0.0.1:{rotel.http_port}", protocol="http", compression="gzip",
        max_batch_items=250,
    )  # fmt: skip
    wal = harness.open(dest)
    for _ in range(8):
        wal.append(int(Signal.TRACES), otlp_requests.traces([[100, 25]]).SerializeToString())
    harness.start(dest, transform=tag)
    assert sink.wait_items(1000, timeout_s=60) == 1000
    assert wait_until(lambda: harness.lag(dest) == 0)
    spans = _spans(sink)
    assert len({s.span_id for s in spans}) == 1000
    assert all(
        any(a.key == "driftline.forwarded" and a.value.string_value == "yes" for a in s.attributes)
        for s in spans
    )
