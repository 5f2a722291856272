"""`make bench` part: experiment-run answers on the embedded engine.

  data     10k runs in 20 experiments (start, params, tags, 3 metrics × 10 steps, 5
           heartbeats, end: ~200k OTLP log records) plus one run with 100k metric points
           (5 keys × 20k steps), all sent through the real ingest path: OTLP
           ExportLogsServiceRequest payloads → ProtobufInserter (the sink's INSERT … SELECT
           FROM Protobuf input, one dedup token per table and batch).
  list     ListRuns over all 10k runs: no filter (1000 newest), MLflow's example filter,
           an order by a metric, and a 50k-limit listing of every run.
  read     GetRun of the big run (summaries over its 100k points) and its whole history.
           Targets: each well under a second (MLflow users report minutes, anchors-ml.md §7).

Each answer is timed best of 3 after a warm-up. Prints one JSON object.

    python bench/runs_bench.py [--runs 10000] [--points 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from timing import best_of  # bench/timing.py (scripts run as `python bench/…`)

from driftline import semconv
from driftline.query import runs as runs_query
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.inserter import ProtobufInserter
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext

RECORDS_PER_REQUEST = 1000
REQUESTS_PER_BATCH = 20  # ~ one sink batch


def kv(key: str, value: object) -> KeyValue:
    v = AnyValue()
    if isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, int):
        v.int_value = value
    elif isinstance(value, float):
        v.double_value = value
    else:
        v.string_value = str(value)
    return KeyValue(key=key, value=v)


class Payloads:
    """Log records packed into ExportLogsServiceRequest payloads of RECORDS_PER_REQUEST."""

    def __init__(self) -> None:
        self.done: list[bytes] = []
        self.records = 0
        self._new()

    def _new(self) -> None:
        self.request = ExportLogsServiceRequest()
        rl = self.request.resource_logs.add()
        rl.resource.attributes.append(kv("service.name", "trainer"))
        self.out = rl.scope_logs.add().log_records
        self.n = 0

    def add(self, run_id: str, event: str, ts: int, attrs: dict[str, object]) -> None:
        record = self.out.add(time_unix_nano=ts, event_name=event)
        record.attributes.extend(
            [kv(semconv.ML_RUN_ID, run_id), *(kv(k, v) for k, v in attrs.items())]
        )
        self.n += 1
        self.records += 1
        if self.n == RECORDS_PER_REQUEST:
            self.flush()

    def flush(self) -> None:
        if self.n:
            self.done.append(self.request.SerializeToString())
            self._new()


def generate(n_runs: int, big_points: int, now: int) -> tuple[Payloads, str, str]:
    rng = random.Random(1)
    p = Payloads()
    m = semconv.ML_RUN_METRIC_PREFIX
    for i in range(n_runs):
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        t0 = now - (n_runs - i) * 10**9
        p.add(run_id, semconv.ML_RUN_START, t0, {
            semconv.ML_RUN_EXPERIMENT: f"exp-{i % 20}", semconv.ML_RUN_NAME: f"run-{i}",
            semconv.ML_RUN_USER: "bench", semconv.ML_RUN_STATUS: "RUNNING",
            semconv.ML_RUN_HEARTBEAT_INTERVAL: 10.0, semconv.ML_RUN_CODE_COMMIT: "abc123",
            "ml.run.env.python": "3.11.7",
        })  # fmt: skip
        p.add(run_id, semconv.ML_RUN_PARAMS, t0, {
            f"{semconv.ML_RUN_PARAM_PREFIX}lr": rng.choice(["0.01", "0.1", "0.001"]),
            f"{semconv.ML_RUN_PARAM_PREFIX}layers": str(rng.randint(1, 8)),
            f"{semconv.ML_RUN_PARAM_PREFIX}optimizer": rng.choice(["adam", "sgd"]),
            f"{semconv.ML_RUN_PARAM_PREFIX}batch": "256",
            f"{semconv.ML_RUN_PARAM_PREFIX}dropout": str(rng.random())[:4],
        })  # fmt: skip
        p.add(run_id, semconv.ML_RUN_TAGS, t0, {
            f"{semconv.ML_RUN_TAG_PREFIX}team": rng.choice(["search", "ads", "feed"]),
            f"{semconv.ML_RUN_TAG_PREFIX}env": "bench",
        })  # fmt: skip
        for step in range(10):
            p.add(run_id, semconv.ML_RUN_METRICS, t0 + step * 1000, {
                semconv.ML_RUN_STEP: step, f"{m}loss": rng.random(),
                f"{m}accuracy": rng.random(), f"{m}f1": rng.random(),
            })  # fmt: skip
        for beat in range(5):
            p.add(run_id, semconv.ML_RUN_HEARTBEAT, t0 + beat * 2000, {})
        p.add(run_id, semconv.ML_RUN_END, t0 + 20_000, {semconv.ML_RUN_STATUS: "FINISHED"})
    big = uuid.uuid4().hex
    keys = ["loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    p.add(big, semconv.ML_RUN_START, now, {
        semconv.ML_RUN_EXPERIMENT: "big", semconv.ML_RUN_NAME: "big-run",
    })  # fmt: skip
    steps = big_points // len(keys)
    for step in range(steps):
        p.add(big, semconv.ML_RUN_METRICS, now + step, {
            semconv.ML_RUN_STEP: step, **{f"{m}{k}": rng.random() for k in keys},
        })  # fmt: skip
    p.add(big, semconv.ML_RUN_END, now + steps, {semconv.ML_RUN_STATUS: "FINISHED"})
    p.flush()
    return p, big, "exp-0"


def history_bytes(client: Any, run_id: str) -> dict[str, Any]:
    """The history as RunService sends it: the packed GetRunMetricsResponse, serialized."""
    from driftline.api._gen.driftline.v1 import runs_pb2

    history = runs_query.metric_history(client, "default", run_id, timeout_s=60)
    response = runs_pb2.GetRunMetricsResponse(run_id=run_id)
    for key, series in history.items():
        response.metrics.add(
            key=key, steps=series.steps, timestamps_unix_nano=series.timestamps_ns,
            values=series.values,
        )  # fmt: skip
    response.SerializeToString()
    return history


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="driftline-runs-bench-"))
    target = Target(embedded_path=str(root / "clickhouse"))
    client = connect(target)
    migrate(client, DdlContext())
    now = time.time_ns()

    started = time.perf_counter()
    payloads, big, _ = generate(args.runs, args.points, now)
    generate_s = time.perf_counter() - started
    inserter = ProtobufInserter(client, target, root / "tmp")
    started = time.perf_counter()
    for i in range(0, len(payloads.done), REQUESTS_PER_BATCH):
        inserter.insert(Signal.LOGS, payloads.done[i : i + REQUESTS_PER_BATCH], f"wal-{i}-{i}")
    ingest_s = time.perf_counter() - started

    db, t = "default", 60.0

    def listing(filter_string: str = "", order_by: tuple[str, ...] = (), limit: int = 0) -> Any:
        return runs_query.list_runs(
            client, db, filter_string=filter_string, order_by=list(order_by),
            max_results=limit, now_ns=time.time_ns(), heartbeat_timeout_s=60, timeout_s=t,
        )  # fmt: skip

    example = "metrics.accuracy > 0.9 and params.lr = '0.01' and tags.team = 'search'"
    results: dict[str, Any] = {}
    for name, fn in {
        "list_newest_1000": lambda: listing(),
        "list_filter_mlflow_example": lambda: listing(example),
        "list_order_by_metric_top100": lambda: listing("", ("metrics.f1 DESC",), 100),
        "list_all_runs_50k_limit": lambda: listing("attributes.status = 'FINISHED'", (), 50_000),
        "get_run_100k_points": lambda: runs_query.get_run(
            client, db, big, now_ns=time.time_ns(), timeout_s=t
        ),
        "history_100k_points": lambda: runs_query.metric_history(client, db, big, timeout_s=t),
        "history_100k_points_as_grpc_bytes": lambda: history_bytes(client, big),
    }.items():
        seconds, result = best_of(fn)
        size = (
            sum(len(s.steps) for s in result.values()) if isinstance(result, dict)
            else len(result) if isinstance(result, list) else len(result.metrics)
        )  # fmt: skip
        results[name] = {"seconds": round(seconds, 4), "rows": size}
    print(json.dumps({
        "runs": args.runs, "big_run_points": args.points, "log_records": payloads.records,
        "generate_s": round(generate_s, 2), "ingest_s": round(ingest_s, 2),
        "ingest_records_per_s": round(payloads.records / ingest_s),
        "answers": results,
    }, indent=2))  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)  # chDB keeps its open files until the process exits


if __name__ == "__main__":
    main()
