"""The SDK as a user's script runs it, through the real OTel exporters, against a live
`driftline serve` (#11.6, #11.14):

- OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (and grpc), endpoint, per-signal endpoint, headers
  (the ingest token) and compression are honoured: inferences, labels and run events arrive;
- with the collector down the script ends without waiting out every retry and prints one
  warning, not one per attempt;
- start_run keeps the user's console logging (basicConfig after it, and Python's last-resort
  handler) and names the service after the script, not `unknown_service:python`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
TOKEN = "sdk-env-token"

SCRIPT = """\
import logging, sys
from driftline import sdk

configured = sdk.configure(service_name="env-check")
model = sys.argv[1]
for i in range(20):
    with sdk.track_inference(model=model, version="1", inference_id=f"{model}-{i}") as inf:
        inf.features({"x": float(i)})
        inf.prediction(1, score=0.9)
sdk.record_label(f"{sys.argv[1]}-0", 1, model=sys.argv[1])
with sdk.start_run(experiment=sys.argv[1], params={"lr": 0.1}, handle_sigterm=False) as run:
    run.log_metrics({"loss": 0.5}, step=0)
    logging.warning("console %s", "kept")
configured.shutdown()
print("RUN", run.id)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(
        tmp_path_factory.mktemp("sdk-env"), env={"DRIFTLINE_INGEST_TOKEN": TOKEN}
    ) as srv:
        yield srv


def run_script(tmp_path: Path, script: str, env: dict[str, str], *args: str,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    path = tmp_path / "train_job.py"
    path.write_text(script)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, str(path), *args], env={**clean, **env},
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _check_arrived(server: ServerProcess, model: str, run_id: str) -> None:
    server.wait_for(f"SELECT count() FROM ml_inferences WHERE ModelName = '{model}'", 20)
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model}'", 1)
    server.wait_for(f"SELECT count() > 0 FROM ml_runs WHERE RunId = '{run_id}'", 1)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_protocol_endpoint_headers_compression(
    server: ServerProcess, tmp_path: Path, protocol: str
) -> None:
    model = f"env-{uuid.uuid4().hex[:6]}"
    port = server.endpoints["otlp_http" if protocol != "grpc" else "otlp_grpc"]
    done = run_script(tmp_path, SCRIPT, {
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    }, model)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "cannot export" not in done.stderr, done.stderr
    _check_arrived(server, model, done.stdout.split()[-1])


def test_per_signal_http_endpoints(server: ServerProcess, tmp_path: Path) -> None:
    model = f"env-{uuid.uuid4().hex[:6]}"
    base = f"http://{server.endpoints['otlp_http']}"
    done = run_script(tmp_path, SCRIPT, {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{base}/v1/traces",  # used as it is
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"http://{server.endpoints['otlp_grpc']}",  # grpc
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}",
    }, model)  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check_arrived(server, model, done.stdout.split()[-1])


def test_wrong_token_is_one_warning(server: ServerProcess, tmp_path: Path) -> None:
    done = run_script(tmp_path, SCRIPT, {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{server.endpoints['otlp_grpc']}",
    }, "env-unauthenticated")  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "driftline sdk" in line]
    assert len(warnings) == 1 and "UNAUTHENTICATED" in warnings[0], done.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_collector_down_is_one_warning_and_a_bounded_exit(tmp_path: Path, protocol: str) -> None:
    done = run_script(tmp_path, SCRIPT, {
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
    }, "down", timeout=30)  # 39 s before: every exporter waited out its retries  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "console kept" in done.stderr  # the user's own warning, through the last resort
    noise = [line for line in lines if "console kept" not in line]
    assert len(noise) == 1 and noise[0].startswith("driftline sdk: "), done.stderr


CONSOLE = """\
import logging
from driftline.sdk import start_run

with start_run(experiment="console", endpoint=sys_endpoint, handle_sigterm=False) as run:
    logging.basicConfig(level=logging.INFO, format="CONSOLE %(levelname)s %(message)s")
    logging.getLogger("trainer").info("epoch %d", 1)
print("RUN", run.id)
"""


def test_start_run_keeps_console_logging_and_names_the_service(
    server: ServerProcess, tmp_path: Path
) -> None:
    script = "sys_endpoint = " + repr(server.endpoints["otlp_grpc"]) + "\n" + CONSOLE
    done = run_script(tmp_path, textwrap.dedent(script), {
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization=Bearer {TOKEN}",
    })  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CONSOLE INFO epoch 1" in done.stderr
    run_id = done.stdout.split()[-1]
    server.wait_for(f"SELECT count() > 0 FROM otel_logs WHERE Body = 'epoch 1' AND "
                    f"LogAttributes['ml.run.id'] = '{run_id}'", 1)  # fmt: skip
    assert server.scalar(f"SELECT any(ServiceName) FROM otel_logs WHERE "
                         f"LogAttributes['ml.run.id'] = '{run_id}'") == "train_job"  # fmt: skip
