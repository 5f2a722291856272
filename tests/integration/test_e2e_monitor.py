"""End to end through the OTel SDK and the CLI: a feature shifted in the current window is
flagged and unshifted ones are not; latency percentiles equal numpy's on the same durations;
labels sent later change the performance answer; the HTML report is written."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
N = 1500
MIN = 60 * 10**9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("monitor")) as srv:
        yield srv


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def cli_json(server: ServerProcess, *args: str) -> Any:
    done = cli(server, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def model(server: ServerProcess) -> dict[str, Any]:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(11)
    provider = TracerProvider(resource=Resource.create({"service.name": "scorer"}))
    provider.add_span_processor(
        BatchSpanProcessor(  # a queue for all 3000 spans: the default 2048 would drop some
            OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True),
            max_queue_size=4 * N,
        )
    )
    tracer = provider.get_tracer("e2e")
    now = time.time_ns()
    durations, ids, preds = [], [], []
    for part, (age_mu, newest, oldest) in enumerate(
        ((40.0, 70 * MIN, 170 * MIN), (50.0, 1 * MIN, 50 * MIN))
    ):
        for i in range(N):
            start = now - int(rng.integers(newest, oldest))
            duration = int(rng.lognormal(np.log(20e6), 0.5))
            score = float(rng.random())
            inference_id = f"{name}-{part}-{i}"
            span = tracer.start_span("predict", start_time=start)
            span.set_attributes({
                "ml.model.name": name, "ml.model.version": "1", "ml.inference.id": inference_id,
                "ml.feature.age": float(rng.normal(age_mu, 10)),
                "ml.feature.income": float(rng.normal(50_000, 8_000)),
                "ml.feature.country": str(rng.choice(["DE", "FR", "US"])),
                "ml.prediction": int(score >= 0.5), "ml.prediction.score": score,
            })  # fmt: skip
            span.end(end_time=start + duration)
            durations.append(duration)
            ids.append(inference_id)
            preds.append(int(score >= 0.5))
    provider.shutdown()
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{name}'", 2 * N, 120)
    return {"name": name, "durations": np.array(durations), "ids": ids, "preds": preds}


WINDOWS = ("--since", "1h", "--reference-since", "3h", "--reference-until", "1h")


def test_shifted_feature_is_flagged_and_unshifted_are_not(
    server: ServerProcess, model: dict[str, Any], tmp_path: Path
) -> None:
    answer = cli_json(server, "query", "drift", "--model", model["name"], *WINDOWS)
    features = {f["feature"]: f for f in answer["windows"][0]["features"]}
    assert features["age"]["drifted"] and features["age"]["method"] == "wasserstein"
    assert not features["income"].get("drifted", False)
    assert not features["country"].get("drifted", False)
    assert features["country"]["method"] == "jensenshannon"
    assert "ml.prediction.score" in features  # prediction drift comes with the same call
    text = cli(server, "query", "drift", "--model", model["name"], *WINDOWS).stdout
    assert "age" in text and "wasserstein" in text
    html = tmp_path / "drift.html"
    done = cli(server, "report", "drift", "--model", model["name"], *WINDOWS, "--html", str(html))
    assert done.returncode == 0, done.stderr
    assert "<svg" in html.read_text() and ">age " in html.read_text()


def test_latency_percentiles_equal_numpys(server: ServerProcess, model: dict[str, Any]) -> None:
    answer = cli_json(server, "query", "latency", "--model", model["name"], "--since", "3h")
    (group,) = answer["groups"]
    expected = np.percentile(model["durations"], [50, 90, 95, 99]) / 1e6
    got = [group["p50_ms"], group["p90_ms"], group["p95_ms"], group["p99_ms"]]
    assert got == pytest.approx(expected, rel=1e-9)
    assert int(group["count"]) == 2 * N


def test_labels_sent_later_change_the_performance_answer(
    server: ServerProcess, model: dict[str, Any]
) -> None:
    before = cli_json(server, "query", "performance", "--model", model["name"], "--since", "3h")
    assert int(before["groups"][0].get("labelled", 0)) == 0
    assert "accuracy" in before["groups"][0]["estimated"]  # CBPE from the scores
    truth = [1 - p if i % 4 == 0 else p for i, p in enumerate(model["preds"][:40])]
    for inference_id, label in zip(model["ids"][:40], truth, strict=True):
        assert cli(server, "label", model["name"], inference_id, str(label)).returncode == 0
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model['name']}'", 40)
    after = cli_json(server, "query", "performance", "--model", model["name"], "--since", "3h")
    group = after["groups"][0]
    assert int(group["labelled"]) == 40
    expected = np.mean(np.array(truth) == np.array(model["preds"][:40]))
    assert group["metrics"]["accuracy"] == pytest.approx(expected)


def test_bad_queries_get_clear_errors(server: ServerProcess, model: dict[str, Any]) -> None:
    done = cli(server, "query", "drift", "--model", "no-such-model")
    assert done.returncode == 1 and "NOT_FOUND" in done.stderr
    done = cli(server, "query", "drift", "--model", model["name"], "--method", "bogus", *WINDOWS)
    assert done.returncode == 1 and "INVALID_ARGUMENT" in done.stderr
    done = cli(
        server, "query", "latency", "--model", model["name"], "--since", "900h", "--until", "800h"
    )
    assert done.returncode == 1 and "FAILED_PRECONDITION" in done.stderr


def test_a_saved_reference_answers_like_its_window(
    server: ServerProcess, model: dict[str, Any]
) -> None:
    name = model["name"]
    saved = cli_json(
        server, "reference", "save", "baseline", "--model", name, "--since", "3h", "--until", "1h"
    )
    assert int(saved["inferences"]) == N and "age" in saved["features"]
    listed = cli_json(server, "reference", "list", "--model", name)
    assert [r["name"] for r in listed["references"]] == ["baseline"]
    live = cli_json(server, "query", "drift", "--model", name, *WINDOWS)
    frozen = cli_json(server, "query", "drift", "--model", name, "--since", "1h",
                      "--reference", "baseline")  # fmt: skip
    scores = {f["feature"]: f.get("score", 0.0) for f in live["windows"][0]["features"]}
    got = {f["feature"]: f.get("score", 0.0) for f in frozen["windows"][0]["features"]}
    assert got == pytest.approx(scores, rel=1e-12, abs=1e-15)
    learned = cli_json(server, "query", "drift", "--model", name, "--since", "1h",
                       "--reference", "baseline", "--thresholds", "reference")  # fmt: skip
    age = {f["feature"]: f for f in learned["windows"][0]["features"]}["age"]
    assert age["drifted"] and age["threshold"] != 0.1  # learned, not Evidently's default
    done = cli(server, "query", "drift", "--model", name, "--reference", "nope")
    assert done.returncode == 1 and "NOT_FOUND" in done.stderr and "nope" in done.stderr
    done = cli(server, "reference", "save", "old", "--model", name, "--since", "900h",
               "--until", "800h")  # fmt: skip
    assert done.returncode == 1 and "FAILED_PRECONDITION" in done.stderr
    done = cli(server, "reference", "save", "bad name", "--model", name)
    assert done.returncode == 1 and "INVALID_ARGUMENT" in done.stderr
