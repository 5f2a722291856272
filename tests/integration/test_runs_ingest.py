"""Run events from the real SDK (its records encoded by the OTLP exporter's own encoder) fill
the run tables through the Protobuf inserter: params, tags, metrics with steps and
timestamps round-trip exactly, latest follows MLflow's (step, timestamp, value) rule, replays
with the same token store nothing twice, and the run queries read them back."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from driftline.errors import InvalidInputError, NotFoundError
from driftline.query import runs as runs_query
from driftline.sdk import RunParamError, start_run
from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.inserter import ProtobufInserter
from tests.engine_db import fresh_database


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, str]]:
    with fresh_database(chdb_dir, "runs") as (client, target):
        yield client, target.database


@pytest.fixture
def inserter(db: tuple[Client, str], tmp_path: Path, chdb_dir: Path) -> ProtobufInserter:
    return ProtobufInserter(db[0], Target(embedded_path=str(chdb_dir), database=db[1]), tmp_path)


def _provider() -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider, exporter


def _payloads(exporter: InMemoryLogRecordExporter, per_request: int = 50) -> list[bytes]:
    records = list(exporter.get_finished_logs())
    exporter.clear()
    return [
        encode_logs(records[i : i + per_request]).SerializeToString()
        for i in range(0, len(records), per_request)
    ]


def _rows(db: tuple[Client, str], sql: str, **params: Any) -> list[tuple[Any, ...]]:
    client, database = db
    return [
        tuple(r) for r in client.query(sql.replace("{db}", database), parameters=params).result_rows
    ]


def test_a_run_round_trips_exactly(db: tuple[Client, str], inserter: ProtobufInserter) -> None:
    provider, exporter = _provider()
    rng = random.Random(7)
    logged: list[tuple[str, int, float]] = []
    with start_run(
        experiment="fraud", run_name="lr-small", params={"lr": 0.01, "layers": 3},
        tags={"team": "search"}, data_version="2026-11-30", seeds={"numpy": 7},
        artifact_uri="s3://bucket/fraud/1", logger_provider=provider, handle_sigterm=False,
        capture_logs=False,
    ) as run:  # fmt: skip
        for step in range(300):
            values = {"loss": rng.random(), "val.acc": rng.uniform(-1e308, 1e308)}
            run.log_metrics(values, step=step)
            logged += [(k, step, v) for k, v in values.items()]
        run.log_metric("loss", 5e-324, step=-3)  # negative step, subnormal value
        logged.append(("loss", -3, 5e-324))
        run.log_param("lr", 0.01)  # same value again: fine
        with pytest.raises(RunParamError, match="Changing param values is not allowed"):
            run.log_param("lr", 0.02)
        run.set_tag("team", "ranking")  # tags are mutable: latest wins
        artifact = Path(__file__)
        run.log_artifact(artifact)
    payloads = _payloads(exporter)
    inserter.insert(Signal.LOGS, payloads, "wal-1-9")
    inserter.insert(Signal.LOGS, payloads, "wal-1-9")  # a replay: deduplicated

    stored = _rows(
        db, "SELECT Key, Step, Value FROM `{db}`.ml_run_metrics WHERE RunId = {r:String} "
        "ORDER BY Key, Step", r=run.id,
    )  # fmt: skip
    assert stored == sorted(logged)  # exact doubles, exact steps, no duplicates

    detail = runs_query.get_run(db[0], db[1], run.id, now_ns=time.time_ns(), timeout_s=60)
    assert detail.status == "FINISHED"
    assert detail.params == {"lr": "0.01", "layers": "3"}
    assert detail.tags == {"team": "ranking"}
    assert detail.experiment == "fraud" and detail.run_name == "lr-small"
    assert detail.attributes["data.version"] == "2026-11-30"
    assert detail.attributes["artifact_uri"] == "s3://bucket/fraud/1"
    listed = runs_query.list_runs(
        db[0], db[1], filter_string="attributes.artifact_uri LIKE 's3://bucket/%'",
        now_ns=time.time_ns(), heartbeat_timeout_s=60, timeout_s=60,
    )  # fmt: skip
    assert [r.run_id for r in listed] == [run.id]
    assert detail.attributes["seed.numpy"] == "7"
    assert "env.python" in detail.attributes
    # MLflow's latest: greatest (step, timestamp, value) — step 299, not the later step -3.
    last_loss = next(v for k, s, v in logged if k == "loss" and s == 299)
    assert detail.metrics["loss"].latest == last_loss
    assert detail.metrics["loss"].points == 301
    assert detail.metrics["loss"].min == min(v for k, _, v in logged if k == "loss")
    import hashlib

    (art,) = detail.artifacts
    assert art.sha256 == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert art.size == artifact.stat().st_size and art.uri == artifact.resolve().as_uri()

    history = runs_query.metric_history(
        db[0], db[1], run.id, ["loss"], min_step=10, max_step=19, max_points=1000, timeout_s=60
    )
    series = history["loss"]
    assert list(zip(series.steps, series.values, strict=True)) == [
        (s, v) for k, s, v in logged if k == "loss" and 10 <= s <= 19
    ]


def test_list_filter_order_and_crashed(db: tuple[Client, str], inserter: ProtobufInserter) -> None:
    provider, exporter = _provider()
    ids = {}
    for i, (lr, team, acc) in enumerate(
        [("0.01", "search", 0.95), ("0.1", "search", 0.80), ("0.01", "ads", 0.91)]
    ):
        run = start_run(
            experiment="listing", run_name=f"r{i}", params={"lr": lr}, tags={"team": team},
            logger_provider=provider, handle_sigterm=False, capture_logs=False,
        )  # fmt: skip
        run.log_metric("accuracy", acc, step=1)
        ids[i] = run
    ids[0].end()
    ids[1].end("FAILED", error=("ValueError", "bad"))
    stuck = ids[2]  # never ends: RUNNING while fresh, CRASHED after the timeout
    stuck._stop.set()
    stuck.status = "ABANDONED"  # keep atexit from ending it
    inserter.insert(Signal.LOGS, _payloads(exporter), "wal-20-30")

    def names(filter_string: str, order_by: list[str] | None = None, **kw: Any) -> list[str]:
        result = runs_query.list_runs(
            db[0], db[1], experiments=["listing"], filter_string=filter_string,
            order_by=order_by or [], max_results=100, now_ns=kw.get("now", time.time_ns()),
            heartbeat_timeout_s=kw.get("timeout", 60.0), timeout_s=60,
        )  # fmt: skip
        return [r.run_name for r in result]

    assert names("metrics.accuracy > 0.9 and params.lr = '0.01' and tags.team = 'search'") == ["r0"]
    assert names("", ["metrics.accuracy DESC"]) == ["r0", "r2", "r1"]
    assert names("attributes.status = 'FAILED'") == ["r1"]
    assert names("attributes.status = 'RUNNING'") == ["r2"]
    later = time.time_ns() + 120 * 10**9
    assert names("attributes.status = 'CRASHED'", now=later) == ["r2"]
    assert names("params.lr LIKE '0.0%'", ["attributes.run_name ASC"]) == ["r0", "r2"]
    assert names("tags.team ILIKE 'SEA%'", ["run_name"]) == ["r0", "r1"]
    assert names("attributes.artifact_uri = ''", ["run_name"]) == ["r0", "r1", "r2"]
    assert names("params.missing IS NULL", ["run_name"]) == ["r0", "r1", "r2"]
    assert names("params.lr IS NOT NULL and metrics.accuracy <= 0.8") == ["r1"]
    assert names(f"attributes.run_id IN ('{ids[1].id}', '{ids[2].id}')", ["run_name"]) == [
        "r1",
        "r2",
    ]
    pages: list[list[str]] = []
    token = ""
    while True:
        page, token = runs_query.list_runs_page(
            db[0], db[1], experiments=["listing"], order_by=["run_name"], max_results=2,
            page_token=token, now_ns=time.time_ns(), heartbeat_timeout_s=60, timeout_s=60,
        )  # fmt: skip
        pages.append([r.run_name for r in page])
        if not token:
            break
    assert pages == [["r0", "r1"], ["r2"]]
    with pytest.raises(InvalidInputError, match="invalid page token"):
        runs_query.list_runs_page(
            db[0], db[1], page_token="not base64!", now_ns=0, heartbeat_timeout_s=60,
            timeout_s=60,
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="'or'"):
        names("params.lr = '0.01' or params.lr = '0.1'")
    with pytest.raises(NotFoundError):
        runs_query.get_run(db[0], db[1], "f" * 32, now_ns=time.time_ns(), timeout_s=60)


def test_other_producers_and_mixed_batches(
    db: tuple[Client, str], inserter: ProtobufInserter
) -> None:
    """Run events from any OTLP producer: event name as an attribute, typed params, a double
    step; records without a run id or with another event name are not run rows; a batch that
    mixes plain logs with run events stores both, and its replay stores nothing twice."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from tests.integration.test_storage_inserter import kv

    now = time.time_ns()
    run_id = "ab" * 16
    run_req = ExportLogsServiceRequest()
    records = run_req.resource_logs.add().scope_logs.add().log_records
    r = records.add(time_unix_nano=now)
    r.attributes.extend([
        kv("event.name", "ml.run.start"), kv("ml.run.id", run_id), kv("ml.run.experiment", "ext"),
        kv("ml.run.name", "foreign"), kv("ml.run.param.depth", 7), kv("ml.run.param.on", True),
    ])  # fmt: skip
    r = records.add(time_unix_nano=now + 1)
    r.attributes.extend([
        kv("event.name", "ml.run.metrics"), kv("ml.run.id", run_id), kv("ml.run.step", 3.0),
        kv("ml.run.metric.auc", 0.75), kv("ml.run.metric.count", 12),
        kv("ml.run.metric.note", "text is not a metric"),
    ])  # fmt: skip
    r = records.add(time_unix_nano=now + 1, event_name="ml.run.params")  # a changed param
    r.attributes.extend([kv("ml.run.id", run_id), kv("ml.run.param.depth", 8)])
    for i, team in enumerate(("a", "b")):  # tags: the latest wins
        r = records.add(time_unix_nano=now + 1 + i, event_name="ml.run.tags")
        r.attributes.extend([kv("ml.run.id", run_id), kv("ml.run.tag.team", team)])
    r = records.add(time_unix_nano=now + 2, event_name="ml.run.metrics")  # no run id: dropped
    r.attributes.extend([kv("ml.run.metric.auc", 0.1)])
    r = records.add(time_unix_nano=now + 3, event_name="something.else")
    r.attributes.extend([kv("ml.run.id", run_id), kv("ml.run.metric.auc", 0.2)])
    plain = ExportLogsServiceRequest()
    for i in range(5):
        plain.resource_logs.add().scope_logs.add().log_records.add(
            time_unix_nano=now, body=kv("b", f"plain {i}").value
        )
    batch = [plain.SerializeToString(), run_req.SerializeToString(), plain.SerializeToString()]
    for _ in range(2):  # the replay is deduplicated, table by table
        inserter.insert(Signal.LOGS, batch, "wal-40-42")
    inserter.insert(Signal.LOGS, [plain.SerializeToString()], "wal-43-43")  # no run rows at all

    rows = _rows(db, "SELECT Key, Step, Value FROM `{db}`.ml_run_metrics WHERE RunId = {r:String}"
                 " ORDER BY Key", r=run_id)  # fmt: skip
    assert rows == [("auc", 3, 0.75), ("count", 3, 12.0)]
    info = runs_query.get_run(db[0], db[1], run_id, now_ns=now, timeout_s=60)
    assert info.params == {"depth": "7", "on": "true"}  # params: the first value stays
    assert info.tags == {"team": "b"}
    assert info.run_name == "foreign" and info.status == "RUNNING"
    assert info.last_seen_ns == now + 3  # every record with the run id counts as alive
    plain_rows = _rows(db, "SELECT count() FROM `{db}`.otel_logs WHERE Body LIKE 'plain %'")
    assert plain_rows == [(15,)]
