"""SIGKILL the server while an MLflow client is in the middle of log_batch calls: after a
restart on the same data directory, every batch the client heard OK for is there, exactly
once (the batch in flight at the kill may or may not be, never twice)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from tests.integration.mlflow_env import tracking_uri
from tests.serve import ServerProcess

pytestmark = pytest.mark.crash

KEYS = 50  # metrics per batch: one step of KEYS keys


def test_kill_mid_log_batch_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    client = MlflowClient(tracking_uri(server.endpoints))
    run_id = client.create_run("0", run_name="killed").info.run_id
    acknowledged: list[int] = []
    stop = threading.Event()

    def log() -> None:
        step = 0
        while not stop.is_set():
            now = int(time.time() * 1000)
            batch = [Metric(f"k{k}", float(step * KEYS + k), now, step) for k in range(KEYS)]
            try:
                client.log_batch(run_id, metrics=batch)
            except Exception:
                return  # the server is gone: this batch was not acknowledged
            acknowledged.append(step)
            step += 1

    thread = threading.Thread(target=log)
    thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    thread.join(60)
    assert len(acknowledged) >= 40

    restarted = ServerProcess(data).start()
    try:
        again = MlflowClient(tracking_uri(restarted.endpoints))
        for k in (0, KEYS - 1):
            history = again.get_metric_history(run_id, f"k{k}")
            steps = [m.step for m in history]
            assert len(steps) == len(set(steps)), "a point was stored twice"
            assert set(acknowledged) <= set(steps)
            assert len(steps) <= len(acknowledged) + 1  # at most the batch in flight
            assert all(m.value == float(m.step * KEYS + k) for m in history)
        assert again.get_run(run_id).info.run_name == "killed"
    finally:
        restarted.terminate()
