"""Data quality and multivariate drift end to end: spans from the OTel SDK, the answers through
the CLI (`--json` with every field, the readable table, the HTML report in a real Chromium)
and the query API's QualityService. The current hour carries a missing-value burst, a category
the reference never had, and a correlation flip between two features whose marginals stay put.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from driftline.api._gen.driftline.v1 import quality_pb2, quality_pb2_grpc
from tests.browser import assert_charts_drawn, open_page, screenshot
from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
N = 1500
MIN = 60 * 10**9
WINDOWS = ("--since", "1h", "--reference-since", "3h", "--reference-until", "1h")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("quality")) as srv:
        yield srv


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model(server: ServerProcess) -> dict[str, Any]:
    name = f"dq-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(3)
    provider = TracerProvider(resource=Resource.create({"service.name": "scorer"}))
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=server.endpoints["otlp_grpc"], insecure=True),
            max_queue_size=4 * N,
        )
    )
    tracer = provider.get_tracer("e2e")
    now = time.time_ns()
    missing = 0
    for part, (corr, newest, oldest) in enumerate(
        ((0.9, 70 * MIN, 170 * MIN), (-0.9, MIN, 50 * MIN))
    ):
        xy = rng.multivariate_normal([0, 0], [[1, corr], [corr, 1]], N)
        for i in range(N):
            start = now - int(rng.integers(newest, oldest))
            attrs: dict[str, Any] = {
                "ml.model.name": name, "ml.model.version": "1",
                "ml.feature.x": float(xy[i, 0]), "ml.feature.y": float(xy[i, 1]),
                "ml.feature.plan": str(rng.choice(["free", "pro"])),
            }  # fmt: skip
            if part == 1 and i % 10 == 0:  # the current hour: 10 % without y
                del attrs["ml.feature.y"]
                missing += 1
            if part == 1 and i % 50 == 0:
                attrs["ml.feature.plan"] = "enterprise"
            span = tracer.start_span("predict", start_time=start)
            span.set_attributes(attrs)
            span.end(end_time=start + 5_000_000)
    provider.shutdown()
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{name}'", 2 * N, 120)
    server.wait_for(
        f"SELECT count() FROM ml_features WHERE ModelName = '{name}'", 6 * N - missing, 120
    )
    return {"name": name, "missing": missing}


def test_quality_json_carries_every_field(server: ServerProcess, model: dict[str, Any]) -> None:
    done = cli(server, "query", "quality", "--model", model["name"], *WINDOWS, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    window = answer["windows"][0]
    assert window["inferences"] == N and isinstance(window["inferences"], int)
    features = {f["feature"]: f for f in window["features"]}
    checks = {c["name"]: c for c in features["y"]["checks"]}
    assert checks["missing_share"]["value"] == model["missing"] / N
    assert checks["missing_share"]["alert"] is True
    x_checks = {c["name"]: c for c in features["x"]["checks"]}
    assert x_checks["missing_share"] == {
        "name": "missing_share", "value": 0.0, "has_value": True, "lower": 0.0,
        "has_lower": False, "upper": 0.0, "has_upper": True, "alert": False,
    }  # fmt: skip
    assert features["plan"]["new_categories"] == [{"category": "enterprise", "rows": N // 50}]
    assert answer["flagged"] is True and answer["no_data"] is False
    assert set(window["flagged_features"]) == {"y", "plan"}


def test_quality_table_and_html_report(
    server: ServerProcess, model: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    html = tmp_path / "quality.html"
    done = cli(server, "query", "quality", "--model", model["name"], *WINDOWS, "--html", str(html))
    assert done.returncode == 0, done.stderr
    assert "QUALITY ISSUES (2/3 features flagged" in done.stdout
    assert "plan: enterprise" in done.stdout
    with open_page(browser, html.as_uri()) as page:
        assert_charts_drawn(page, ".card")
        assert page.locator(".card").count() == 3
        screenshot(page, "quality-report", tmp_path)


def test_multivariate_catches_the_correlation_flip(
    server: ServerProcess, model: dict[str, Any]
) -> None:
    done = cli(
        server, "query", "multivariate", "--model", model["name"], *WINDOWS,
        "--features", "x,y", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    window = answer["windows"][0]
    assert window["alert"] is True and answer["drifted"] is True
    assert window["reconstruction_error"] > window["upper_threshold"]
    text = cli(server, "query", "multivariate", "--model", model["name"], *WINDOWS)
    assert text.returncode == 0 and "MULTIVARIATE DRIFT" in text.stdout


def test_errors_are_one_line(server: ServerProcess, model: dict[str, Any]) -> None:
    typo = cli(server, "query", "quality", "--model", "no-such-model")
    assert typo.returncode == 1
    assert typo.stderr.strip().count("\n") == 0
    assert "unknown model 'no-such-model'" in typo.stderr and model["name"] in typo.stderr
    bad = cli(server, "query", "quality", "--model", model["name"], "--threshold", "nope=1")
    assert bad.returncode == 1 and "unknown check" in bad.stderr
    empty = cli(
        server, "query", "quality", "--model", model["name"], "--since", "10h", "--until", "9h"
    )
    assert empty.returncode == 0 and "no data" in empty.stdout
    none = cli(
        server, "query", "multivariate", "--model", model["name"], "--since", "10h", "--until", "9h"
    )
    assert none.returncode == 0 and "no data" in none.stdout


def test_quality_service_over_grpc(server: ServerProcess, model: dict[str, Any]) -> None:
    with grpc.insecure_channel(server.endpoints["query_grpc"]) as channel:
        stub = quality_pb2_grpc.QualityServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.GetDataQuality(quality_pb2.GetDataQualityRequest(model=""))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
