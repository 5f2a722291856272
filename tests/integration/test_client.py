"""driftline.client against a live server holding data this module sends: every answer is
checked against what was sent, computed independently (numpy/scipy), and bulk labels go in
through `Client.record_labels(DataFrame)` and `driftline label --file` (CSV and Parquet)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from driftline.client import Client, QueryError
from tests import console_data
from tests.serve import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    with ServerProcess(tmp_path_factory.mktemp("client")) as server:
        seeded = console_data.send(server.endpoints)
        console_data.wait_stored(server, seeded)
        yield server, seeded


@pytest.fixture(scope="module")
def client(live: tuple[ServerProcess, Any]) -> Iterator[Client]:
    with Client(live[0].endpoints["query_grpc"]) as c:
        yield c


def test_models_and_latency_match_what_was_sent(
    live: tuple[ServerProcess, Any], client: Client
) -> None:
    _server, seeded = live
    models = {(m.model, m.version): m for m in client.models()}
    assert {k: m.inferences for k, m in models.items()} == seeded.spans
    frame = client.models().to_pandas()
    assert set(frame.columns) >= {"model", "version", "inferences", "p50_ms", "p99_ms"}
    by_version = {
        g.keys["version"]: g
        for g in client.latency("fraud", since="4h", group_by=["version"]).groups
    }
    assert by_version["4"].p50_ms > by_version["3"].p50_ms  # v4 was sent slower
    regression = client.latency(
        "fraud", since="4h", baseline_version="3", candidate_version="4"
    ).regression
    assert regression is not None and regression.slower and regression.n_baseline == 400


def test_drift_agrees_with_scipy(live: tuple[ServerProcess, Any], client: Client) -> None:
    _server, seeded = live
    drift = client.drift("fraud", since="1h")
    amount = next(f for f in drift.windows[-1].features if f.feature == "amount")
    expected = stats.ks_2samp(seeded.amounts["3"], seeded.amounts["4"]).pvalue
    assert amount.drifted and np.isclose(amount.score, expected, rtol=1e-6, atol=1e-300)
    assert amount.n_reference == 400 and amount.n_current == 400
    frame = drift.to_pandas()
    assert set(frame["feature"]) >= {"amount", "country"}
    over_time = client.drift("fraud", since="1h", window_seconds=600)
    with_data = [w for w in over_time.windows if w.features]
    assert len(with_data) == 6  # 10-minute windows over the hour
    counts = [next(f.n_current for f in w.features if f.feature == "amount") for w in with_data]
    assert sum(counts) == 400


def test_performance_matches_the_labels_sent(
    live: tuple[ServerProcess, Any], client: Client
) -> None:
    _server, seeded = live
    perf = client.performance("fraud", since="24h", group_by=["version"])
    v4 = next(g for g in perf.groups if g.keys["version"] == "4")
    assert v4.labelled == seeded.labels == len(seeded.inference_ids)
    assert perf.to_pandas().shape[0] == len(perf.groups)


def test_traces_logs_and_inferences(live: tuple[ServerProcess, Any], client: Client) -> None:
    _server, seeded = live
    spans = client.trace(seeded.trace_id)
    assert sorted(s.name for s in spans) == ["features", "predict", "request"]
    root = next(s for s in spans if s.name == "request")
    assert all(s.parent_span_id == root.span_id for s in spans if s is not root)
    logs = client.logs(text=seeded.log_text, severity="ERROR")
    assert [r.body for r in logs] == [seeded.log_text] and logs[0].trace_id == seeded.trace_id
    assert client.logs(text=seeded.log_text, severity="FATAL") == []
    recent = client.inferences("fraud", version="4", since="24h", limit=1000)
    assert len(recent) == seeded.spans[("fraud", "4")]
    errors = client.inferences("fraud", version="4", since="24h", errors_only=True, limit=1000)
    assert 0 < len(errors) < len(recent) and {e.status for e in errors} == {"Error"}
    times = [r.time for r in recent]
    assert times == sorted(times, reverse=True)
    with pytest.raises(QueryError) as missing:
        client.trace("0" * 32)
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(ValueError, match="severity"):
        client.logs(severity="LOUD")


def test_runs_metrics_and_sql(live: tuple[ServerProcess, Any], client: Client) -> None:
    _server, seeded = live
    page = client.runs(experiments=["fraud-train"], order_by=["metrics.loss ASC"])
    assert sorted(r.run_id for r in page) == sorted(seeded.run_ids)
    losses = [r.metrics["loss"].latest for r in page]
    assert losses == sorted(losses)
    only = client.runs("params.lr = '0.01'", experiments=["fraud-train"])
    assert [r.params["lr"] for r in only] == ["0.01"]
    first = seeded.run_ids[0]
    history = client.run_metrics(first, ["loss"]).to_pandas()
    assert list(history["step"]) == list(range(10))
    assert np.allclose(history["value"], [1.0 / (s + 1) for s in range(10)])
    assert client.run(first).metrics["loss"].points == 10
    assert [r.run_id for r in client.compare_runs(seeded.run_ids[:2])] == seeded.run_ids[:2]
    frame = client.sql(
        "SELECT ModelVersion AS v, count() AS n FROM ml_inferences WHERE ModelName = {m:String} "
        "GROUP BY v ORDER BY v",
        {"m": "fraud"},
    )
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == [
        {"v": "3", "n": seeded.spans[("fraud", "3")]},
        {"v": "4", "n": seeded.spans[("fraud", "4")]},
    ]
    with pytest.raises(QueryError) as bad:
        client.sql("DROP TABLE ml_inferences")
    assert bad.value.code == "INVALID_ARGUMENT"


def test_record_labels_in_batches(live: tuple[ServerProcess, Any], client: Client) -> None:
    server, _seeded = live
    model = f"bulk-{uuid.uuid4().hex[:6]}"
    n = 12_500  # more than one request of LABELS_PER_REQUEST
    frame = pd.DataFrame({"inference_id": [f"i{i}" for i in range(n)], "label": np.arange(n) % 2})
    assert client.record_labels(frame, model=model) == n
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model}'", n)
    assert server.scalar(f"SELECT sum(Label) FROM ml_labels WHERE ModelName = '{model}'") == n // 2


def _cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args, "--server", server.endpoints["query_grpc"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_label_file_csv_and_parquet(live: tuple[ServerProcess, Any], tmp_path: Path) -> None:
    server, _seeded = live
    model = f"file-{uuid.uuid4().hex[:6]}"
    csv = tmp_path / "labels.csv"
    csv.write_text("inference_id,label\n" + "".join(f"c{i},{i % 3}\n" for i in range(300)))
    done = _cli(server, "label", model, "--file", str(csv))
    assert done.returncode == 0 and "300 label(s) accepted" in done.stdout, done.stderr
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame(
        {"model": model, "inference_id": [f"p{i}" for i in range(50)], "label": ["spam"] * 50}
    ).to_parquet(parquet)
    done = _cli(server, "label", "--file", str(parquet), "--json")
    assert done.returncode == 0 and '"accepted": 50' in done.stdout, done.stderr
    server.wait_for(f"SELECT count() FROM ml_labels WHERE ModelName = '{model}'", 350)
    ((classes, numeric_sum),) = server.sql(
        f"SELECT countIf(LabelClass = 'spam'), sumIf(Label, LabelClass = '') FROM ml_labels "
        f"WHERE ModelName = '{model}'"
    )
    assert classes == 50 and numeric_sum == sum(i % 3 for i in range(300))

    bad = tmp_path / "bad.csv"
    bad.write_text("inference_id,label\nz1,1\n,1\n")
    done = _cli(server, "label", model, "--file", str(bad))
    assert done.returncode == 2 and "row 2: no inference_id" in done.stderr
    assert "Traceback" not in done.stderr
    assert _cli(server, "label", "--file", str(tmp_path / "missing.csv")).returncode == 2


def test_saved_references_and_run_logs(live: tuple[ServerProcess, Any], client: Client) -> None:
    _server, seeded = live
    name = f"ref-{uuid.uuid4().hex[:6]}"
    saved = client.save_reference(name, "fraud", since="4h", version="3", description="v3")
    assert (saved.name, saved.version, saved.inferences) == (name, "3", 400)
    assert name in [r.name for r in client.references("fraud")]
    drift = client.drift("fraud", since="1h", saved_reference=name)
    amount = next(f for f in drift.windows[-1].features if f.feature == "amount")
    assert amount.n_reference == 400 and amount.drifted
    logs = client.run_logs(seeded.run_ids[0])
    assert logs.run_id == seeded.run_ids[0] and logs.records == []  # capture_logs=False
    assert list(logs.to_pandas().columns) == []
