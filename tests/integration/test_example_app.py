"""examples/serve_model.py against a running collector: predictions and labels arrive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parents[2] / "examples" / "serve_model.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("example")) as srv:
        yield srv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, payload: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_example_app_reports_inferences_and_labels(server: ServerProcess) -> None:
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--listen", f"127.0.0.1:{port}",
         "--collector", f"http://{server.endpoints['otlp_grpc']}"],
        env={**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = post(f"http://127.0.0.1:{port}/predict", {"age": 30, "country": "NG"})
                break
            except OSError:
                assert time.monotonic() < deadline, "the example app did not start"
                time.sleep(0.2)
        assert 0 < float(str(answer["fraud_probability"])) < 1
        inference_id = str(answer["inference_id"])
        post(f"http://127.0.0.1:{port}/label", {"inference_id": inference_id, "label": 1})
        server.wait_for(
            f"SELECT count() FROM ml_inferences WHERE InferenceId = '{inference_id}'", 1
        )
        server.wait_for(f"SELECT count() FROM ml_labels WHERE InferenceId = '{inference_id}'", 1)
        row = server.sql(
            "SELECT ModelName, ModelVersion, ServiceName, Score FROM ml_inferences "
            f"WHERE InferenceId = '{inference_id}'"
        )[0]
        assert row[:3] == ["fraud-lr", "1", "fraud-api"]
        assert row[3] == pytest.approx(float(str(answer["fraud_probability"])))
    finally:
        app.terminate()
        app.wait(30)
