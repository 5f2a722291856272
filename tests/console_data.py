"""Data the console and client tests send to a live server, through the real OTel SDK.

`send(endpoints)` writes, with explicit timestamps:
- model `fraud`: version 3 in the reference window (3 h to 65 min ago) and version 4 in the
  last hour, `amount` shifted by about two standard deviations and `country` re-weighted (so
  both drift), v4 slower than v3, 5 % errors; prediction, score; labels for v4 through
  `Client.record_labels(DataFrame)` (the bulk path);
- model `ranker`: steady, both windows, no labels;
- error logs tied to one trace of `fraud`;
- three finished runs in experiment `fraud-train` (params lr, metrics loss/accuracy per step).
`Seeded` keeps what was sent, so tests compare pages with independent computations.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

MIN_NS = 60 * 10**9
COUNTRIES = ["DE", "FR", "US", "BR"]


@dataclass
class Seeded:
    now_ns: int
    spans: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, version) → count
    amounts: dict[str, np.ndarray] = field(default_factory=dict)  # version → amounts sent
    labels: int = 0
    trace_id: str = ""
    log_text: str = ""
    run_ids: list[str] = field(default_factory=list)
    run_params: dict[str, str] = field(default_factory=dict)  # run id → lr
    inference_ids: list[str] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)


def _inferences(
    tracer: Any, model: str, version: str, n: int, t0: int, t1: int, rng: np.random.Generator,
    shift: float, slow_ms: float, seeded: Seeded,
) -> None:  # fmt: skip
    times = np.sort(rng.integers(t0, t1, size=n))
    amounts = rng.normal(100 + shift * 20, 20, size=n)
    weights = [0.4, 0.3, 0.2, 0.1] if shift == 0 else [0.1, 0.2, 0.3, 0.4]
    countries = rng.choice(COUNTRIES, size=n, p=weights)
    durations = rng.lognormal(np.log(slow_ms), 0.3, size=n)
    errors = rng.random(n) < 0.05
    for i in range(n):
        start = int(times[i])
        span = tracer.start_span("predict", start_time=start)
        score = float(1 / (1 + np.exp(-(amounts[i] - 110) / 15)))
        prediction = int(score > 0.5)
        inference_id = f"{model}-{version}-{i}"
        span.set_attributes({
            "ml.model.name": model, "ml.model.version": version,
            "ml.inference.id": inference_id,
            "ml.feature.amount": float(amounts[i]), "ml.feature.country": str(countries[i]),
            "ml.prediction": prediction, "ml.prediction.score": score,
        })  # fmt: skip
        if errors[i]:
            span.set_status(Status(StatusCode.ERROR, "timeout"))
        span.end(end_time=start + int(durations[i] * 1e6))
        if model == "fraud" and version == "4":
            seeded.inference_ids.append(inference_id)
            seeded.predictions.append(prediction)
    seeded.spans[(model, version)] = n
    if model == "fraud":
        seeded.amounts[version] = amounts


def send(endpoints: dict[str, str], seed: int = 11, n: int = 400) -> Seeded:
    from driftline.client import Client

    rng = np.random.default_rng(seed)
    now = time.time_ns()
    seeded = Seeded(now_ns=now)
    otlp = endpoints["otlp_grpc"]
    resource = Resource.create({"service.name": "fraud-api"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp, insecure=True), max_queue_size=20000)
    )
    tracer = provider.get_tracer("console-test")
    ref = (now - 180 * MIN_NS, now - 65 * MIN_NS)
    cur = (now - 58 * MIN_NS, now - MIN_NS)
    _inferences(tracer, "fraud", "3", n, *ref, rng, 0.0, 20.0, seeded)
    _inferences(tracer, "fraud", "4", n, *cur, rng, 2.0, 35.0, seeded)
    _inferences(tracer, "ranker", "1", n // 2, *ref, rng, 0.0, 8.0, seeded)
    _inferences(tracer, "ranker", "1", n // 2, *cur, rng, 0.0, 8.0, seeded)
    seeded.spans[("ranker", "1")] = n

    with tracer.start_as_current_span("request") as root:
        seeded.trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("features"):
            time.sleep(0.002)
        with tracer.start_as_current_span("predict") as span:
            span.set_attributes({"ml.model.name": "fraud", "ml.model.version": "4"})
            seeded.spans[("fraud", "4")] += 1
            time.sleep(0.003)
            logger_provider = LoggerProvider(resource=resource)
            logger_provider.add_log_record_processor(
                BatchLogRecordProcessor(OTLPLogExporter(endpoint=otlp, insecure=True))
            )
            py_logger = logging.getLogger(f"console-test.{uuid.uuid4().hex[:6]}")
            py_logger.propagate = False
            py_logger.addHandler(LoggingHandler(logger_provider=logger_provider))
            seeded.log_text = f"feature store timeout {uuid.uuid4().hex[:8]}"
            py_logger.error(seeded.log_text)
            py_logger.warning("slow feature fetch")
    provider.shutdown()
    logger_provider.shutdown()

    import pandas as pd

    truth = [p if rng.random() < 0.8 else 1 - p for p in seeded.predictions]
    frame = pd.DataFrame({"model": "fraud", "inference_id": seeded.inference_ids, "label": truth})
    with Client(endpoints["query_grpc"]) as client:
        seeded.labels = client.record_labels(frame)
    _runs(otlp, seeded)
    return seeded


def _runs(otlp: str, seeded: Seeded) -> None:
    from driftline.sdk import start_run

    for i, lr in enumerate(("0.1", "0.01", "0.001")):
        with start_run(
            experiment="fraud-train", run_name=f"lr-{lr}", params={"lr": lr, "depth": 4 + i},
            endpoint=f"http://{otlp}", handle_sigterm=False, capture_logs=False,
        ) as run:  # fmt: skip
            for step in range(10):
                run.log_metrics(
                    {"loss": 1.0 / (step + 1 + i), "accuracy": 0.5 + 0.04 * step + 0.01 * i},
                    step=step,
                )
            seeded.run_ids.append(str(run.id))
            seeded.run_params[str(run.id)] = lr


def wait_stored(server: Any, seeded: Seeded, timeout_s: float = 90.0) -> None:
    """Until every span, label and run the test sent is queryable."""
    total = sum(seeded.spans.values())
    server.wait_for("SELECT count() FROM ml_inferences", total, timeout_s)
    server.wait_for("SELECT count() FROM ml_labels", seeded.labels, timeout_s)
    server.wait_for(f"SELECT count() FROM otel_logs WHERE Body = '{seeded.log_text}'", 1, timeout_s)
    from driftline.client import Client

    deadline = time.monotonic() + timeout_s
    with Client(server.endpoints["query_grpc"]) as client:
        while True:
            runs = client.runs(experiments=["fraud-train"])
            done = [r for r in runs if r.status == "FINISHED" and r.run_id in seeded.run_ids]
            if len(done) == len(seeded.run_ids) and all(
                "loss" in r.metrics and "accuracy" in r.metrics for r in done
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not stored: {[(r.run_id, r.status) for r in runs]}")
            time.sleep(0.2)
