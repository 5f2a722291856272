"""A user's first hour of data, sent to a live `driftline serve` through real OTel exporters.

The README's examples (tests/integration/test_readme.py) and every command's `--json`
(test_readme_json.py) run against this one server. What it holds, relative to now:

- model `fraud`, version 3: inferences over the last 24 h (not the last 10 minutes), and a
  block 6–7 days ago (`reference save training --since 7d --until 6d`); ~22 ms each;
- version 4: the last 55 minutes, `amount` shifted ×3 and a new `merchant_category`, ~60 ms
  (slower), worse accuracy;
- a label for every second inference;
- experiment `fraud`: two finished runs (`lr-0.01` with accuracy 0.95, `lr-0.1` with 0.80)
  whose training loop logs WARNING records through Python logging.

The generator is seeded; every timestamp is relative to the moment it runs.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.serve import ServerProcess

MODEL = "fraud"
MIN_NS = 60 * 10**9
HOUR_NS = 60 * MIN_NS
CATEGORIES = ("grocery", "travel", "electronics", "fuel")


@dataclass
class FirstHour:
    server: ServerProcess
    inference_ids: dict[str, list[str]] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> str:
        return self.server.endpoints["query_grpc"]

    @property
    def otlp_grpc(self) -> str:
        return self.server.endpoints["otlp_grpc"]


def _send_inferences(srv: ServerProcess, rng: np.random.Generator) -> dict[str, list[str]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-api"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=srv.endpoints["otlp_grpc"], insecure=True),
            max_queue_size=1 << 14,
        )
    )
    tracer = provider.get_tracer("first-hour")
    now = time.time_ns()
    phases = (  # version, count, newest/oldest offset from now, amount scale, latency ms, accuracy
        ("3", 300, 6 * 24 * HOUR_NS + MIN_NS, 7 * 24 * HOUR_NS - MIN_NS, 1.0, 22.0, 0.9),
        ("3", 600, 10 * MIN_NS, 24 * HOUR_NS - MIN_NS, 1.0, 22.0, 0.9),
        ("4", 600, MIN_NS // 2, 55 * MIN_NS, 3.0, 60.0, 0.7),
    )
    ids: dict[str, list[str]] = {"3": [], "4": []}
    labels: list[tuple[str, int]] = []
    for version, count, newest, oldest, scale, latency_ms, accuracy in phases:
        categories = CATEGORIES if version == "3" else (*CATEGORIES, "gift_cards", "gift_cards")
        for i in range(count):
            start = now - int(rng.integers(newest, oldest))
            inference_id = f"{version}-{len(ids[version])}"
            score = float(rng.random())
            prediction = int(score >= 0.5)
            span = tracer.start_span("predict", start_time=start)
            span.set_attributes({
                "ml.model.name": MODEL, "ml.model.version": version,
                "ml.inference.id": inference_id,
                "ml.feature.amount": float(rng.lognormal(3.5, 0.6) * scale),
                "ml.feature.age": float(rng.normal(41, 12)),
                "ml.feature.merchant_category": str(rng.choice(categories)),
                "ml.prediction": prediction, "ml.prediction.score": score,
            })  # fmt: skip
            span.end(end_time=start + int(rng.lognormal(np.log(latency_ms * 1e6), 0.25)))
            ids[version].append(inference_id)
            if i % 2 == 0:
                truth = prediction if rng.random() < accuracy else 1 - prediction
                labels.append((inference_id, truth))
    provider.shutdown()
    _send_labels(srv, labels)
    return ids


def _send_labels(srv: ServerProcess, labels: list[tuple[str, int]]) -> None:
    from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc

    request = query_pb2.RecordLabelsRequest(
        labels=[query_pb2.Label(model_name=MODEL, inference_id=i, number=v) for i, v in labels]
    )
    with grpc.insecure_channel(srv.endpoints["query_grpc"]) as channel:
        query_pb2_grpc.QueryServiceStub(channel).RecordLabels(request, timeout=60)


def _send_runs(srv: ServerProcess) -> dict[str, str]:
    from driftline.sdk import start_run

    runs = {}
    for name, lr, final_accuracy in (("lr-0.01", 0.01, 0.95), ("lr-0.1", 0.1, 0.80)):
        with start_run(
            experiment=MODEL, run_name=name, params={"lr": lr, "layers": 4},
            tags={"team": "search"}, endpoint=srv.endpoints["otlp_grpc"], handle_sigterm=False,
            run_id="e" + uuid.uuid4().hex[1:],  # both start with "e": an ambiguous prefix
        ) as run:  # fmt: skip
            for step in range(5):
                accuracy = final_accuracy - 0.1 * (4 - step) / 4
                run.log_metrics({"loss": 1.0 - accuracy, "accuracy": accuracy}, step=step)
                logging.getLogger("trainer").warning("epoch %d done", step)
                time.sleep(0.05)
        runs[name] = run.id
    return runs


def fill(srv: ServerProcess) -> FirstHour:
    rng = np.random.default_rng(2026)
    data = FirstHour(srv)
    data.inference_ids = _send_inferences(srv, rng)
    data.run_ids = _send_runs(srv)
    total = sum(len(v) for v in data.inference_ids.values())
    srv.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{MODEL}'", total)
    srv.wait_for(
        f"SELECT count() > 0 FROM ml_labels WHERE ModelName = '{MODEL}'", 1
    )  # labels land after their inferences
    srv.wait_for(f"SELECT uniqExact(RunId) FROM ml_runs WHERE RunId IN "
                 f"({', '.join(repr(r) for r in data.run_ids.values())})", 2)  # fmt: skip
    return data


@pytest.fixture(scope="session")
def first_hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstHour]:
    """One live server with a first hour of data, shared by the README and --json tests."""
    data_dir: Path = tmp_path_factory.mktemp("first-hour")
    with ServerProcess(data_dir) as srv:
        yield fill(srv)
