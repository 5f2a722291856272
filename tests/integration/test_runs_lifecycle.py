"""Run lifecycle end to end: real training processes (tests/integration/run_trainer.py) export
through the OpenTelemetry SDK to a real `driftline serve` subprocess, and the answers come back
through RunService and the CLI, as users get them.

finished (the `with` block ends), failed (an exception), killed (SIGTERM: the process still
dies by the signal), crashed (SIGKILL: RUNNING until nothing arrives for the configured
`runs.heartbeat_timeout`, then CRASHED); params, metric steps and values round-trip exactly;
training logs are tied to the run; bad filters and unknown runs get INVALID_ARGUMENT/NOT_FOUND.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from driftline.api._gen.driftline.v1 import runs_pb2, runs_pb2_grpc
from tests.serve import ServerProcess

TRAINER = Path(__file__).with_name("run_trainer.py")
HEARTBEAT_TIMEOUT_S = 2.0
CONFIG = f"""
runs:
  heartbeat_timeout: {HEARTBEAT_TIMEOUT_S}s
exporters:
  clickhouse:
    batch:
      flush_interval: 200ms
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("runs-serve"), config=CONFIG) as srv:
        yield srv


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> Iterator[runs_pb2_grpc.RunServiceStub]:
    with grpc.insecure_channel(server.endpoints["query_grpc"]) as channel:
        yield runs_pb2_grpc.RunServiceStub(channel)  # type: ignore[no-untyped-call]


def _trainer(server: ServerProcess, mode: str, artifact: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{server.endpoints['otlp_grpc']}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    return subprocess.Popen(
        [sys.executable, str(TRAINER), mode, str(artifact)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _read_line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(
                f"trainer exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        if line.startswith(prefix):
            return line.strip()


def _get(stub: runs_pb2_grpc.RunServiceStub, run_id: str) -> runs_pb2.Run:
    response: runs_pb2.Run = stub.GetRun(runs_pb2.GetRunRequest(run_id=run_id), timeout=30)
    return response


def _wait_status(
    stub: runs_pb2_grpc.RunServiceStub, run_id: str, status: str, timeout_s: float = 60
) -> runs_pb2.Run:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = _get(stub, run_id)
            if last.status == status:
                return last
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} is {last.status if last else 'unknown'}, not {status}")


@pytest.fixture(scope="module")
def runs(
    server: ServerProcess,
    stub: runs_pb2_grpc.RunServiceStub,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[str, int]]:
    """Run the four trainers at once; return mode → (run id, exit code)."""
    out = tmp_path_factory.mktemp("artifacts")
    procs = {mode: _trainer(server, mode, out / f"{mode}.bin") for mode in
             ("finish", "fail", "sigterm", "sigkill")}  # fmt: skip
    ids = {mode: _read_line(p, "run ").split()[1] for mode, p in procs.items()}
    for mode in ("sigterm", "sigkill"):
        _read_line(procs[mode], "ready")
    # The killed-to-be runs are RUNNING while they train.
    _wait_status(stub, ids["sigkill"], "RUNNING")
    _wait_status(stub, ids["sigterm"], "RUNNING")
    # let the optional system metrics (every 0.2 s) be sampled and stored twice first
    key, deadline = "system/system_memory_usage_percentage", time.monotonic() + 60
    while _get(stub, ids["sigterm"]).metrics[key].points < 2:
        assert time.monotonic() < deadline, "no system metrics from the training process"
        time.sleep(0.2)
    procs["sigterm"].send_signal(signal.SIGTERM)
    procs["sigkill"].send_signal(signal.SIGKILL)
    codes = {mode: p.wait(60) for mode, p in procs.items()}
    for p in procs.values():
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()
    return {mode: (ids[mode], codes[mode]) for mode in procs}


def test_finished_run_round_trips(
    runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub, server: ServerProcess
) -> None:
    run_id, code = runs["finish"]
    assert code == 0
    run = _wait_status(stub, run_id, "FINISHED")
    assert run.params == {"lr": "0.01", "mode": "finish", "layers": "4"}
    assert run.tags == {"team": "search"}
    assert run.attributes["data.version"] == "v3" and run.attributes["seed.numpy"] == "42"
    assert run.attributes["env.python"] == ".".join(map(str, sys.version_info[:3]))
    assert run.attributes["env.cpu_count"] == str(os.cpu_count())
    assert run.attributes["code.commit"]  # the repository's HEAD, detected with git
    assert run.metrics["loss"].latest == 10 - 49 / 8 and run.metrics["loss"].points == 50
    assert run.end_time_unix_nano >= run.start_time_unix_nano > 0
    (artifact,) = run.artifacts
    assert artifact.size == 8000 and len(artifact.sha256) == 64

    history = stub.GetRunMetrics(
        runs_pb2.GetRunMetricsRequest(run_id=run_id, keys=["loss", "accuracy"], min_step=10,
                                      max_step=14), timeout=30,
    )  # fmt: skip
    got = {h.key: list(zip(h.steps, h.values, strict=True)) for h in history.metrics}
    assert got == {
        "accuracy": [(s, s / 64) for s in range(10, 15)],
        "loss": [(s, 10 - s / 8) for s in range(10, 15)],
    }
    # The training log line is an OTLP log record tied to the run.
    logs = server.sql(
        f"SELECT Body FROM otel_logs WHERE LogAttributes['ml.run.id'] = '{run_id}' "
        "AND Body LIKE 'epoch done%'"
    )
    assert logs == [["epoch done for finish"]]


def test_failed_run(runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub) -> None:
    run_id, code = runs["fail"]
    assert code == 1  # the exception propagated
    run = _wait_status(stub, run_id, "FAILED")
    assert run.attributes["error.type"] == "ValueError"
    assert run.attributes["error.message"] == "diverged at step 50"


def test_sigterm_marks_killed(
    runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub
) -> None:
    run_id, code = runs["sigterm"]
    assert code == -signal.SIGTERM  # the default behaviour after marking the run
    run = _wait_status(stub, run_id, "KILLED")
    assert run.end_time_unix_nano > 0
    # It trained long enough for the optional system metrics (every 0.2 s) to be sampled.
    # (The end event's table may be written a moment before the metric tables: poll.)
    key = "system/system_memory_usage_percentage"
    deadline = time.monotonic() + 30
    while key not in run.metrics and time.monotonic() < deadline:
        time.sleep(0.2)
        run = _get(stub, run_id)
    memory = run.metrics[key]
    assert 0 < memory.min <= memory.max <= 100 and memory.points >= 2


def test_sigkill_becomes_crashed(
    runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub
) -> None:
    run_id, code = runs["sigkill"]
    assert code == -signal.SIGKILL
    run = _wait_status(stub, run_id, "CRASHED", timeout_s=HEARTBEAT_TIMEOUT_S + 30)
    assert run.end_time_unix_nano == 0
    age_s = (time.time_ns() - run.last_seen_unix_nano) / 1e9
    assert age_s >= HEARTBEAT_TIMEOUT_S


def test_list_filter_and_errors(
    runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub
) -> None:
    _wait_status(stub, runs["finish"][0], "FINISHED")
    _wait_status(stub, runs["fail"][0], "FAILED")
    listed = stub.ListRuns(
        runs_pb2.ListRunsRequest(
            experiments=["lifecycle"],
            filter="attributes.status != 'CRASHED' and params.mode LIKE 'f%'",
            order_by=["attributes.run_name ASC"],
        ),
        timeout=30,
    )
    assert [r.run_name for r in listed.runs] == ["fail-run", "finish-run"]
    with pytest.raises(grpc.RpcError) as bad:
        stub.ListRuns(runs_pb2.ListRunsRequest(filter="params.lr = '0.01' OR x = 1"), timeout=30)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "position 19" in (bad.value.details() or "")
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetRun(runs_pb2.GetRunRequest(run_id="0" * 32), timeout=30)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_cli_list_show_compare(
    runs: dict[str, tuple[str, int]], stub: runs_pb2_grpc.RunServiceStub, server: ServerProcess,
    tmp_path: Path,
) -> None:  # fmt: skip
    finish, fail = runs["finish"][0], runs["fail"][0]
    _wait_status(stub, finish, "FINISHED")
    _wait_status(stub, fail, "FAILED")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "driftline", "runs", *args, "--server",
             server.endpoints["query_grpc"]],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    listed = cli("list", "--experiment", "lifecycle", "--filter", "metrics.accuracy >= 0.76",
                 "--order-by", "run_name", "--json")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    names = [r["run_name"] for r in json.loads(listed.stdout)["runs"]]
    assert names == ["fail-run", "finish-run", "sigkill-run", "sigterm-run"]

    shown = cli("show", finish)
    assert shown.returncode == 0 and "FINISHED" in shown.stdout and "lr = 0.01" in shown.stdout

    page = tmp_path / "compare.html"
    compared = cli("compare", finish, fail, "--html", str(page))
    assert compared.returncode == 0, compared.stderr
    html = page.read_text()
    assert html.count("<polyline") >= 4  # loss and accuracy, one line per run
    assert "finish-run" in html and "fail-run" in html

    table = cli("compare", finish, fail)
    assert "* mode" in table.stdout  # differing params are marked

    logs = cli("logs", finish, "--severity", "WARN")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.count("\n") == 1 and "WARNING trainer: epoch done for finish" in logs.stdout
    missing = cli("logs", "f" * 32)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr

    bad = cli("list", "--filter", "metrics.accuracy > 'high'")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr
    assert "expected a numeric value for metric" in bad.stderr
