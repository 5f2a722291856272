"""The real MLflow client (mlflow-skinny) against a live `driftline serve`: the tracking API's
round trips (fluent start_run/log_params/log_metrics/set_tags/log_artifact, MlflowClient
search_runs with filters, ordering and pages, get_metric_history, dataset inputs,
experiments), MLflow's error codes, and the same data read back through RunService and
`driftline runs show/compare/list`."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelStatus,
    Metric,
    Param,
    RunTag,
    ViewType,
)  # fmt: skip
from mlflow.exceptions import MlflowException, RestException

from driftline.api._gen.driftline.v1 import runs_pb2, runs_pb2_grpc
from tests.integration.mlflow_env import tracking_uri  # sets MLflow's env before its import
from tests.serve import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("mlflow")) as s:
        mlflow.set_tracking_uri(tracking_uri(s.endpoints))
        yield s


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> MlflowClient:
    return MlflowClient(tracking_uri(server.endpoints))


@pytest.fixture(scope="module")
def stub(server: ServerProcess) -> Iterator[runs_pb2_grpc.RunServiceStub]:
    with grpc.insecure_channel(server.endpoints["query_grpc"]) as channel:
        yield runs_pb2_grpc.RunServiceStub(channel)  # type: ignore[no-untyped-call]


def _cli(server: ServerProcess, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "driftline", "runs", *args, "--json", "--server",
         server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _post(server: ServerProcess, path: str, body: Any, method: str = "POST") -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{tracking_uri(server.endpoints)}/api/2.0/mlflow/{path}", method=method,
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def _loss(step: int) -> float:
    return 1.0 / (1 + step) + 0.001 * step


def test_fluent_round_trip(
    server: ServerProcess, client: MlflowClient, stub: runs_pb2_grpc.RunServiceStub,
    tmp_path: Path,
) -> None:  # fmt: skip
    mlflow.set_experiment(f"fluent-{uuid.uuid4().hex[:6]}")
    model = tmp_path / "model.bin"
    model.write_bytes(random.Random(1).randbytes(300_000))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("first")
    with mlflow.start_run(run_name="lr-0.1") as run:
        mlflow.log_params({"lr": 0.1, "layers": 3})
        for step in range(20):
            mlflow.log_metrics({"loss": _loss(step), "acc": step / 20}, step=step)
        mlflow.set_tags({"team": "search"})
        mlflow.log_artifact(str(model))
        mlflow.log_artifacts(str(notes), artifact_path="notes")
    run_id = run.info.run_id

    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.end_time >= got.info.start_time
    assert got.info.run_name == "lr-0.1"
    assert got.data.params == {"lr": "0.1", "layers": "3"}
    assert got.data.metrics == {"loss": _loss(19), "acc": 19 / 20}
    assert got.data.tags["team"] == "search" and got.data.tags["mlflow.runName"] == "lr-0.1"
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, _loss(s)) for s in range(20)]
    assert {a.path for a in client.list_artifacts(run_id)} == {"model.bin", "notes"}
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl"))
    assert (Path(local) / "model.bin").read_bytes() == model.read_bytes()
    assert (Path(local) / "notes" / "a.txt").read_text() == "first"

    # The same run through driftline's own views.
    message = stub.GetRun(runs_pb2.GetRunRequest(run_id=run_id), timeout=60)
    assert message.status == "FINISHED" and dict(message.params) == got.data.params
    losses = np.array([_loss(s) for s in range(20)])
    summary = message.metrics["loss"]
    assert (summary.points, summary.latest_step) == (20, 19)
    assert summary.min == pytest.approx(losses.min()) and summary.max == pytest.approx(losses.max())
    artifacts = {a.path: a for a in message.artifacts}
    assert artifacts["model.bin"].size == model.stat().st_size
    assert artifacts["model.bin"].sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert artifacts["notes/a.txt"].size == 5
    shown = _cli(server, "show", run_id)
    assert shown["status"] == "FINISHED" and shown["params"]["lr"] == "0.1"


def test_search_filters_order_and_pages(server: ServerProcess, client: MlflowClient) -> None:
    experiment_id = client.create_experiment(f"search-{uuid.uuid4().hex[:6]}")
    rng = random.Random(7)
    truth: dict[str, dict[str, Any]] = {}
    for i in range(12):
        run = client.create_run(
            experiment_id, run_name=f"r{i:02d}", start_time=1_700_000_000_000 + i
        )
        lr, team, acc = rng.choice(["0.01", "0.1", "1.0"]), ("search", "ads")[i % 2], rng.random()
        client.log_batch(
            run.info.run_id, metrics=[Metric("acc", acc, 1_700_000_000_000, 0)],
            params=[Param("lr", lr)], tags=[RunTag("team", team)],
        )  # fmt: skip
        status = "FAILED" if i % 5 == 0 else "FINISHED"
        client.set_terminated(run.info.run_id, status)
        truth[run.info.run_id] = {"lr": lr, "team": team, "acc": acc, "status": status,
                                  "name": f"r{i:02d}"}  # fmt: skip

    def search(filter_string: str, order_by: list[str] | None = None) -> list[str]:
        return [r.info.run_id for r in client.search_runs(
            [experiment_id], filter_string, order_by=order_by, max_results=1000)]  # fmt: skip

    def expect(pred: Any) -> set[str]:
        return {k for k, v in truth.items() if pred(v)}

    assert set(search("metrics.acc > 0.5")) == expect(lambda v: v["acc"] > 0.5)
    assert set(search("params.lr = '0.01' and tags.team = 'ads'")) == expect(
        lambda v: v["lr"] == "0.01" and v["team"] == "ads"
    )
    assert set(search("attributes.status = 'FAILED'")) == expect(lambda v: v["status"] == "FAILED")
    assert set(search("params.lr LIKE '0.%' and metrics.acc <= 0.7")) == expect(
        lambda v: v["lr"].startswith("0.") and v["acc"] <= 0.7
    )
    assert set(search("tags.mlflow.runName ILIKE 'R0%'")) == expect(lambda v: v["name"] < "r10")
    by_acc = sorted(truth, key=lambda k: -truth[k]["acc"])
    assert search("", ["metrics.acc DESC"]) == by_acc
    newest_first = sorted(truth, key=lambda k: truth[k]["name"], reverse=True)
    assert search("") == newest_first  # MLflow's default: start_time DESC

    pages, token = [], None
    while True:
        page = client.search_runs([experiment_id], order_by=["metrics.acc DESC"], max_results=5,
                                  page_token=token)  # fmt: skip
        pages.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2] and [r for p in pages for r in p] == by_acc

    gone = by_acc[0]
    client.delete_run(gone)
    assert gone not in search("")
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [gone]
    client.restore_run(gone)
    assert gone in search("")


def test_datasets_inputs_and_filters(server: ServerProcess, client: MlflowClient) -> None:
    experiment_id = client.create_experiment(f"data-{uuid.uuid4().hex[:6]}")
    runs = {}
    for name, dataset, context in [("a", "train-2026", "training"), ("b", "holdout", "eval")]:
        run = client.create_run(experiment_id, run_name=name)
        ds = Dataset(name=dataset, digest=f"dg-{dataset}", source_type="local",
                     source=f"/data/{dataset}.parquet", schema='{"cols": ["x"]}')  # fmt: skip
        client.log_inputs(
            run.info.run_id, [DatasetInput(ds, tags=[InputTag("mlflow.data.context", context)])]
        )
        runs[name] = run.info.run_id
    got = client.get_run(runs["a"]).inputs.dataset_inputs
    assert [(d.dataset.name, d.dataset.digest, d.dataset.source) for d in got] == [
        ("train-2026", "dg-train-2026", "/data/train-2026.parquet")
    ]
    assert got[0].dataset.schema == '{"cols": ["x"]}' and got[0].tags[0].value == "training"

    def names(filter_string: str) -> list[str]:
        found = client.search_runs([experiment_id], filter_string, order_by=["run_name"])
        return [r.info.run_name for r in found]

    assert names("datasets.name = 'train-2026'") == ["a"]
    assert names("datasets.context = 'eval'") == ["b"]
    assert names("datasets.digest IN ('dg-holdout', 'dg-train-2026')") == ["a", "b"]
    assert names("datasets.name LIKE 'train%' and datasets.context != 'eval'") == ["a"]
    listed = _cli(server, "list", "--filter", "datasets.name = 'holdout'")
    assert [r["run_id"] for r in listed.get("runs", [])] == [runs["b"]]


def test_experiments_lifecycle_and_search(client: MlflowClient) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}"
    experiment_id = client.create_experiment(name, tags={"owner": "ml"})
    e = client.get_experiment(experiment_id)
    assert (e.name, e.lifecycle_stage, e.tags) == (name, "active", {"owner": "ml"})
    assert e.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    client.set_experiment_tag(experiment_id, "stage", "dev")
    client.rename_experiment(experiment_id, name + "-renamed")
    assert client.get_experiment_by_name(name) is None
    e = client.get_experiment_by_name(name + "-renamed")
    assert e is not None and e.tags == {"owner": "ml", "stage": "dev"}
    found = client.search_experiments(filter_string=f"name LIKE '{name}%' and tags.stage = 'dev'")
    assert [x.experiment_id for x in found] == [experiment_id]
    client.delete_experiment(experiment_id)
    assert experiment_id not in [x.experiment_id for x in client.search_experiments()]
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert experiment_id in [x.experiment_id for x in deleted]
    with pytest.raises(MlflowException) as exc:
        client.create_run(experiment_id)
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_experiment("0").name == "Default"


def test_tags_names_and_status_updates(client: MlflowClient) -> None:
    run = client.create_run("0", tags={"keep": "1", "drop": "2"})
    run_id = run.info.run_id
    assert run.info.run_name  # a generated name, as MLflow gives
    client.delete_tag(run_id, "drop")
    client.update_run(run_id, name="renamed")
    client.set_tag(run_id, "keep", "3")
    got = client.get_run(run_id)
    assert "drop" not in got.data.tags and got.data.tags["keep"] == "3"
    assert got.info.run_name == "renamed" and got.data.tags["mlflow.runName"] == "renamed"
    assert got.info.status == "RUNNING"
    client.set_terminated(run_id, "KILLED")
    assert client.get_run(run_id).info.status == "KILLED"


def test_errors_carry_mlflows_codes(server: ServerProcess, client: MlflowClient) -> None:
    missing = "f" * 32
    cases = [
        (lambda: client.get_run(missing), "RESOURCE_DOES_NOT_EXIST", 404),
        (lambda: client.get_experiment("999999"), "RESOURCE_DOES_NOT_EXIST", 404),
        (lambda: client.log_metric(missing, "m", 1.0), "RESOURCE_DOES_NOT_EXIST", 404),
        (lambda: client.create_experiment("Default"), "RESOURCE_ALREADY_EXISTS", 400),
        (lambda: client.search_runs(["0"], "metrics.acc >"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: client.search_runs(["0"], "params.a = 'x' or params.b = 'y'"),
         "INVALID_PARAMETER_VALUE", 400),
        (lambda: client.delete_experiment("0"), "INVALID_PARAMETER_VALUE", 400),
    ]  # fmt: skip
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # the same value again is fine
    cases += [
        (lambda: client.log_param(run_id, "lr", "0.2"), "INVALID_PARAMETER_VALUE", 400),
        (lambda: client.delete_tag(run_id, "never-set"), "RESOURCE_DOES_NOT_EXIST", 404),
    ]  # fmt: skip
    for call, code, status in cases:
        with pytest.raises(MlflowException) as exc:
            call()
        assert _code(exc) == code
        if isinstance(exc.value, RestException):
            assert exc.value.get_http_status_code() == status
    # The client splits big batches itself; over the wire, MLflow's limit holds.
    too_many = [{"key": f"k{i}", "value": 1.0, "timestamp": 1, "step": 0} for i in range(1001)]
    status, body = _post(server, "runs/log-batch", {"run_id": run_id, "metrics": too_many})
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = _post(server, "runs/get", {"run_id": run_id}, method="POST")
    assert (status, body["error_code"]) == (405, "ENDPOINT_NOT_FOUND")  # GET only, as MLflow
    assert client.get_run(run_id).data.params == {"lr": "0.1"}  # the refused change left nothing
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as exc:
        client.log_metric(run_id, "m", 1.0)
    assert _code(exc) == "INVALID_PARAMETER_VALUE" and "active" in str(exc.value)


def test_compare_view_of_mlflow_runs(
    server: ServerProcess, client: MlflowClient, tmp_path: Path
) -> None:
    experiment_id = client.create_experiment(f"cmp-{uuid.uuid4().hex[:6]}")
    ids = []
    for lr in ("0.1", "0.01"):
        run = client.create_run(experiment_id, run_name=f"lr-{lr}")
        for step in range(5):
            client.log_metric(run.info.run_id, "loss", float(lr) * (5 - step), step=step)
        client.log_param(run.info.run_id, "lr", lr)
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    # An MLflow read waits until every acknowledged write is stored; RunService reads what is
    # stored (like any OTLP data, a moment after the OK).
    client.get_run(ids[-1])
    compared = _cli(server, "compare", *ids)
    runs = {r["run_name"]: r for r in compared["runs"]}
    assert runs["lr-0.1"]["params"]["lr"] == "0.1" and runs["lr-0.01"]["status"] == "FINISHED"
    assert runs["lr-0.1"]["metrics"]["loss"]["latest"] == pytest.approx(0.1)


class _Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: list[float]) -> list[float]:
        return [2 * x for x in model_input]


def test_log_model_and_load_it_back(
    client: MlflowClient, stub: runs_pb2_grpc.RunServiceStub
) -> None:
    mlflow.set_experiment(f"models-{uuid.uuid4().hex[:6]}")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="doubler", python_model=_Doubler())
    model = client.get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY
    assert model.source_run_id == run.info.run_id
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert loaded.predict([1.0, 2.5]) == [2.0, 5.0]
    client.get_run(run.info.run_id)  # the barrier: everything acknowledged is stored
    recorded = stub.GetRun(runs_pb2.GetRunRequest(run_id=run.info.run_id), timeout=60).artifacts
    paths = {a.path for a in recorded}
    assert f"models/{info.model_id}/MLmodel" in paths
    assert all(a.size > 0 and len(a.sha256) == 64 for a in recorded)
