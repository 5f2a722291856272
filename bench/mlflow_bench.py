"""`make bench` part: MLflow's tracking API against a live `driftline serve`.

  log_batch   1000 metrics per call (distinct keys, one step) to one run: p50/p95 round
              trip of the HTTP request (a prebuilt JSON body, keep-alive connection: the
              server's part), and through MlflowClient.log_batch (its own proto→JSON
              encoding of 1000 metrics included). Target: p50 ≤ 20 ms.
  search_runs 10k runs in one MLflow experiment (start with 5 params and 2 tags, 3 metrics,
              end; sent as OTLP run events, the same rows MLflow writes make) — then
              SearchRuns: the first page of 1000 (MLflow's default max_results), a filter,
              an order by a metric (top 100); raw HTTP and through MlflowClient.search_runs
              (which also parses 1000 runs into entities). Target: ≤ 0.2 s.

Each search is best of 3 after a warm-up. Prints one JSON object.

    python bench/mlflow_bench.py [--runs 10000] [--batches 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

import grpc
from timing import best_of

from driftline.api._gen.driftline.v1 import query_pb2, query_pb2_grpc
from driftline.mlflow import events

EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
RUNS_PER_REQUEST = 250


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    log = open(data / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "driftline", "serve", "--data-dir", str(data),
         "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0",
         "--query-grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--mlflow", "127.0.0.1:0"],
        stderr=log,
    )  # fmt: skip
    endpoints = data / "endpoints.json"
    deadline = time.monotonic() + 120
    while not endpoints.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((data / "server.log").read_text()[-3000:])
        time.sleep(0.1)
    return proc, json.loads(endpoints.read_text())


class Http:
    """One keep-alive connection to the MLflow API."""

    def __init__(self, endpoint: str) -> None:
        host, _, port = endpoint.rpartition(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        self._conn.request(method, f"/api/2.0/mlflow/{path}", body=data,
                           headers={"Content-Type": "application/json"})  # fmt: skip
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {payload[:300]!r}")
        return json.loads(payload)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def bench_log_batch(http: Http, client: Any, batches: int) -> dict[str, Any]:
    from mlflow.entities import Metric

    run_id = http.call("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    raw: list[float] = []
    for i in range(batches + 10):
        body = {"run_id": run_id, "metrics": [
            {"key": f"m{k}", "value": random.random(), "timestamp": now, "step": i}
            for k in range(1000)]}  # fmt: skip
        started = time.perf_counter()
        http.call("POST", "runs/log-batch", body)
        if i >= 10:
            raw.append(time.perf_counter() - started)
    via_client: list[float] = []
    for i in range(max(20, batches // 4)):
        metrics = [Metric(f"m{k}", random.random(), now, 10_000 + i) for k in range(1000)]
        started = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        via_client.append(time.perf_counter() - started)
    return {"http": percentiles(raw), "mlflow_client": percentiles(via_client),
            "batches": batches}  # fmt: skip


def ingest_runs(otlp: str, experiment_id: str, n: int) -> None:
    rng = random.Random(5)
    now = time.time_ns() - n * 1_000_000
    channel = grpc.insecure_channel(otlp)
    export = channel.unary_unary(EXPORT)
    for first in range(0, n, RUNS_PER_REQUEST):
        records = []
        for i in range(first, min(n, first + RUNS_PER_REQUEST)):
            run_id = uuid.UUID(int=i + 1).hex
            ts = now + i * 1_000_000
            records.append(events.run_start(
                run_id, ts, experiment_id=experiment_id, experiment_name="bench",
                run_name=f"run-{i:05d}", user_id="bench",
                artifact_uri=f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"))  # fmt: skip
            params = {
                "lr": rng.choice(["0.1", "0.01", "0.001"]), "depth": str(rng.randint(2, 9)),
                "optimizer": rng.choice(["adam", "sgd"]), "batch": "64", "seed": str(i),
            }  # fmt: skip
            records.append(events.run_params(run_id, ts + 1, params))
            tags = {"team": rng.choice(["search", "ads"]), "mlflow.runName": f"run-{i:05d}"}
            records.append(events.run_tags(run_id, ts + 1, tags))
            ms = (ts + 2) // 1_000_000
            records.extend(events.run_metrics(run_id, [
                events.MetricPoint("accuracy", rng.random(), ms, 0),
                events.MetricPoint("f1", rng.random(), ms, 0),
                events.MetricPoint("loss", rng.random(), ms, 0)]))  # fmt: skip
            records.append(events.run_update(run_id, ts + 3, status="FINISHED", run_name=""))
        export(events.request(records), timeout=120)
    channel.close()


def stored_runs(query: str) -> int:
    with grpc.insecure_channel(query) as channel:
        stub = query_pb2_grpc.QueryServiceStub(channel)  # type: ignore[no-untyped-call]
        sql = "SELECT count() FROM ml_runs WHERE Event = 'update'"
        row = stub.Sql(query_pb2.SqlRequest(sql=sql), timeout=120).rows[0].values[0]
        return int(getattr(row, row.WhichOneof("kind")))


def bench_search(http: Http, client: Any, experiment_id: str) -> dict[str, Any]:
    searches = {
        "first_page_1000": {"filter": "", "max_results": 1000},
        "filter": {"filter": "metrics.accuracy > 0.9 and params.lr = '0.01' and "
                             "tags.team = 'search'", "max_results": 1000},
        "order_by_metric_top100": {"order_by": ["metrics.f1 DESC"], "max_results": 100},
    }  # fmt: skip
    out: dict[str, Any] = {}
    for name, args in searches.items():
        body = {"experiment_ids": [experiment_id], **args}
        seconds, result = best_of(lambda b=body: http.call("POST", "runs/search", b))
        client_s, _ = best_of(
            lambda a=args: client.search_runs(
                [experiment_id],
                a.get("filter", ""),
                order_by=a.get("order_by"),
                max_results=a["max_results"],
            )
        )
        out[name] = {"rows": len(result.get("runs", [])), "http_s": round(seconds, 3),
                     "mlflow_client_s": round(client_s, 3)}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    proc, endpoints = start_server(data)
    try:
        from mlflow import MlflowClient

        http = Http(endpoints["mlflow"])
        client = MlflowClient(f"http://{endpoints['mlflow']}")
        result: dict[str, Any] = {"log_batch_1000": bench_log_batch(http, client, args.batches)}
        experiment_id = http.call("POST", "experiments/create", {"name": "bench"})["experiment_id"]
        started = time.perf_counter()
        ingest_runs(endpoints["otlp_grpc"], experiment_id, args.runs)
        while stored_runs(endpoints["query_grpc"]) < args.runs:
            time.sleep(0.5)
        result["ingest_runs_s"] = round(time.perf_counter() - started, 1)
        result["search_runs"] = bench_search(http, client, experiment_id)
        result["runs"] = args.runs
        print(json.dumps(result))
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
