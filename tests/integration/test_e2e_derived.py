"""End to end on a running server, from config: inferences sent by the OpenTelemetry SDK's OTLP
exporter; the derived gauges land in otel_metrics_gauge (p99 equal to numpy's on the durations
sent) and on /metrics; a p99 alert rule fires and, once fast traffic dilutes the tail, resolves
— the webhook (an HTTP server in this test) gets both, and both are log events in otel_logs."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client.parser import text_string_to_metric_families

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
MIN = 60 * 10**9
MODEL = f"e2e-derived-{uuid.uuid4().hex[:6]}"
rng = np.random.default_rng(21)
SLOW = rng.integers(60_000_000, 100_000_000, 100)  # ns: above the 40 ms threshold
FAST = rng.integers(5_000_000, 10_000_000, 150)
DILUTION = rng.integers(5_000_000, 10_000_000, 12_000)  # slow share 0.8 %: p99 is fast again


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


CONFIG = """
analysis:
  slos: [{{model: {model}, latency: 40ms, target: 0.99}}]
derived:
  enabled: true
  interval: 1s
  latency_window: 1h
  drift: {{window: 10m, reference: 1h}}
alerts:
  evaluation_interval: 1s
  webhook: {{url: "{hook}", timeout: 2s, retries: 1}}
  rules:
    - {{name: slow, kind: latency_p99_ms, model: {model}, window: 1h, threshold: 40,
       severity: critical}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hook: str) -> Iterator[ServerProcess]:
    config = CONFIG.format(model=MODEL, hook=hook)
    with ServerProcess(tmp_path_factory.mktemp("derived"), config=config) as srv:
        yield srv


def send(
    server: ServerProcess, durations: np.ndarray[Any, Any], shifted: np.ndarray[Any, Any]
) -> None:
    """One span per duration; `shifted[i]`: a recent inference with a drifted feature, else an
    older (reference-window) one."""
    provider = TracerProvider(resource=Resource.create({"service.name": "scorer"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True),
            max_queue_size=max(2048, 2 * durations.size),
        )
    )
    tracer = provider.get_tracer("e2e")
    now = time.time_ns()
    for d, recent in zip(durations, shifted, strict=True):
        start = now - int(
            rng.integers(1 * MIN, 5 * MIN) if recent else rng.integers(20 * MIN, 50 * MIN)
        )
        span = tracer.start_span("predict", start_time=start)
        span.set_attributes({
            "ml.model.name": MODEL, "ml.model.version": "1",
            "ml.feature.x": float(rng.normal(3.0 if recent else 0.0, 1.0)),
        })  # fmt: skip
        span.end(end_time=start + int(d))
    provider.shutdown()


def latest_gauge(server: ServerProcess, name: str, **attrs: str) -> float | None:
    cond = "".join(f" AND Attributes['{k}'] = '{v}'" for k, v in attrs.items())
    rows = server.sql(
        f"SELECT Value FROM otel_metrics_gauge WHERE MetricName = '{name}' "
        f"AND Attributes['model'] = '{MODEL}'{cond} ORDER BY TimeUnix DESC LIMIT 1"
    )
    return float(rows[0][0]) if rows else None


def eventually(check: Any, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"condition not met in {timeout_s} s (last: {last!r})")


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://{server.endpoints['metrics']}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text) for s in f.samples
    }  # fmt: skip


def test_derived_metrics_and_an_alert_that_fires_and_resolves(server: ServerProcess) -> None:
    first = np.concatenate([SLOW, FAST])
    recent = rng.random(first.size) < 0.5
    send(server, first, recent)
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{MODEL}'", first.size)

    # the gauges computed after everything landed equal numpy's on the durations sent
    p99_s = np.percentile(first, 99) / 1e9
    eventually(lambda: (v := latest_gauge(server, "driftline.latency", quantile="0.99"))
               and abs(v - p99_s) <= 1e-9 * p99_s)  # fmt: skip
    assert eventually(lambda: latest_gauge(server, "driftline.drift.detected")) == 1.0
    units = server.sql(
        "SELECT DISTINCT MetricUnit, ServiceName FROM otel_metrics_gauge "
        "WHERE MetricName = 'driftline.latency'"
    )
    assert units == [["s", "driftline"]]
    burn = latest_gauge(server, "driftline.slo.burn_rate", window="1h")
    assert burn == pytest.approx((SLOW.size / first.size) / 0.01, rel=1e-9)

    # the same values on /metrics
    labels = (("model", MODEL), ("quantile", "0.99"), ("version", "1"))
    metrics = eventually(lambda: (m := scrape(server)).get(("driftline_latency_seconds", labels))
                         and m)  # fmt: skip
    assert metrics["driftline_latency_seconds", labels] == pytest.approx(p99_s, rel=1e-9)
    assert metrics["driftline_drift_detected", (("model", MODEL), ("version", "1"))] == 1.0
    assert metrics["driftline_derived_rounds_total", ()] >= 1

    # the p99 rule fired (webhook + log event)
    firing = eventually(lambda: [h for h in Hook.received if h["status"] == "firing"])
    assert firing[0]["alert"] == "slow" and firing[0]["model"] == MODEL
    assert firing[0]["value"] > 40

    # fast traffic dilutes the slow tail below 1 %: the rule resolves
    send(server, DILUTION, np.ones(DILUTION.size, dtype=bool))
    resolved = eventually(lambda: [h for h in Hook.received if h["status"] == "resolved"], 120)
    # (it may resolve before the last of the dilution lands: only the bound is certain)
    assert resolved[0]["alert"] == "slow" and 5 <= resolved[0]["value"] <= 40
    everything_s = np.percentile(np.concatenate([first, DILUTION]), 99) / 1e9
    eventually(lambda: (v := latest_gauge(server, "driftline.latency", quantile="0.99"))
               and abs(v - everything_s) <= 1e-9 * everything_s)  # fmt: skip

    def statuses() -> list[str] | None:
        rows = server.sql(
            "SELECT LogAttributes['driftline.alert.status'] FROM otel_logs "
            "WHERE EventName = 'driftline.alert' ORDER BY Timestamp"
        )
        return [r[0] for r in rows] if len(rows) >= 2 else None

    assert eventually(statuses) == ["firing", "resolved"]
