"""MLflow clients under the query token rules (MLFLOW_TRACKING_TOKEN → Bearer), and CRASHED:
a run that stopped logging past runs.heartbeat_timeout reads CRASHED in driftline's views and
RUNNING through the MLflow API (whose clients cannot parse CRASHED), filters included."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.integration.mlflow_env import tracking_uri
from tests.serve import ServerProcess

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(
        tmp_path_factory.mktemp("mlflow-auth"),
        config="runs:\n  heartbeat_timeout: 1s\n",
        env={"DRIFTLINE_QUERY_TOKEN": TOKEN},
    ) as s:
        yield s


def test_the_token_is_required(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    client = MlflowClient(tracking_uri(server.endpoints))
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    with pytest.raises(MlflowException) as exc:
        client.create_experiment("nope")
    assert str(exc.value.error_code) == "UNAUTHENTICATED"
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "wrong")
    with pytest.raises(MlflowException):
        client.get_experiment("0")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    assert client.get_experiment("0").name == "Default"


def test_crashed_in_driftline_running_in_mlflow(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    client = MlflowClient(tracking_uri(server.endpoints))
    experiment_id = client.create_experiment("crash")
    run_id = client.create_run(experiment_id, run_name="silent").info.run_id
    client.log_metric(run_id, "loss", 0.5)
    assert client.get_run(run_id).info.status == "RUNNING"  # stored, and still fresh
    time.sleep(3)  # past heartbeat_timeout (1 s) without a word from the run
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "runs", "show", run_id, "--json",
         "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120, env={"DRIFTLINE_QUERY_TOKEN": TOKEN,
                                                          "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "CRASHED"
    assert client.get_run(run_id).info.status == "RUNNING"
    found = client.search_runs([experiment_id], "attributes.status = 'RUNNING'")
    assert [r.info.run_id for r in found] == [run_id]
    client.log_metric(run_id, "loss", 0.4)  # it logs again: alive
    client.set_terminated(run_id)
    assert client.get_run(run_id).info.status == "FINISHED"
