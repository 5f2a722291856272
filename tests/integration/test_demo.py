"""`driftline demo --duration short --json` end to end: a real collector child process, the real
SDK over OTLP, the real query API. The demo's rows are seeded, so the test rebuilds them and
checks the findings against numpy/scipy: drift scores (Evidently's normed Wasserstein and
Jensen-Shannon), accuracy per version from the labels sent, CBPE's expectation from the scores.
Then the printed commands are run against the data the demo left, and must answer the same."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from driftline.demo.app import DemoOptions
from driftline.demo.model import CATEGORICAL, FEATURES, NUMERIC, V1, V2
from driftline.demo.scenario import plan
from driftline.demo.traffic import (
    CORRELATED,
    MISSING_FEATURE,
    NEW_CATEGORY,
    SHIFTED_FEATURES,
    Batch,
    make_batch,
)
from tests.serve import ServerProcess

pytestmark = pytest.mark.integration
SEED = DemoOptions(duration_s=0).seed


def driftline(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("demo")
    report = tmp / "report.html"
    done = driftline(
        "demo", "--duration", "short", "--json", "--report", str(report),
        "--data-dir", str(tmp / "data"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    return {"result": result, "report": report, "data_dir": tmp / "data"}


@pytest.fixture(scope="module")
def batches(demo: dict[str, Any]) -> list[Batch]:
    """The rows the demo sent, rebuilt from its seeds (phase i uses seed + i)."""
    specs = plan(24.0)
    assert [p["inferences"] for p in demo["result"]["phases"]] == [s.requests for s in specs]
    return [make_batch(SEED + i, s.requests, shifted=s.shifted) for i, s in enumerate(specs, 1)]


def column(batch: Batch, name: str) -> np.ndarray:
    """The values the requests carried (a missing feature is not a value)."""
    return np.array([row[name] for row in batch.rows if row[name] is not None])


def js_distance(ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's categorical jensenshannon: shares per value of ref ∪ cur, no zero fill."""
    keys = sorted(set(ref) | set(cur))
    shares = []
    for values in (ref, cur):
        counts = Counter(values.tolist())
        shares.append(np.array([counts.get(k, 0) for k in keys], dtype=float) / len(values))
    return float(distance.jensenshannon(*shares))


def test_exactly_the_shifted_features_drift(demo: dict[str, Any], batches: list[Batch]) -> None:
    drift = demo["result"]["findings"]["drift"]
    features = drift["features"]
    assert set(FEATURES) <= set(features)
    assert sorted(drift["drifted_features"]) == sorted(SHIFTED_FEATURES)
    for name in FEATURES:
        assert features[name].get("drifted", False) == (name in SHIFTED_FEATURES), name
    ref, cur = batches
    for name in NUMERIC:
        assert features[name]["method"] == "wasserstein"
        a, b = column(ref, name), column(cur, name)
        expected = stats.wasserstein_distance(a, b) / np.std(a)
        assert features[name]["score"] == pytest.approx(expected, rel=1e-6), name
    for name in CATEGORICAL:
        assert features[name]["method"] == "jensenshannon"
        expected = js_distance(column(ref, name), column(cur, name))
        assert features[name]["score"] == pytest.approx(expected, rel=1e-6), name
    n_columns = len(features)
    assert drift["share"] == pytest.approx(drift["drifted_count"] / n_columns)
    assert drift["dataset_drift"] == (drift["share"] >= drift["drift_share"])


def test_version_2_is_slower_with_a_significant_rank_test(demo: dict[str, Any]) -> None:
    latency = demo["result"]["findings"]["latency"]
    assert (latency["baseline"], latency["candidate"]) == ("1", "2")
    n = [p["inferences"] for p in demo["result"]["phases"]]
    assert [int(latency["n_baseline"]), int(latency["n_candidate"])] == n
    assert latency["slower"] and latency["p_value"] < 0.05 and latency["cliffs_delta"] > 0
    # Version 2 sleeps 40 ms more per call by construction; both medians come from the spans.
    assert latency["candidate_p50_ms"] - latency["baseline_p50_ms"] > 30


def expected_performance(batch: Batch, scorer: Any) -> tuple[float, float]:
    """(accuracy over the labelled rows, CBPE's expected accuracy over all rows)."""
    p = scorer.probabilities(list(batch.rows))
    pred = (p >= 0.5).astype(int)
    labelled = np.array(batch.send_label)
    accuracy = float(np.mean(pred[labelled] == np.array(batch.truth)[labelled]))
    cbpe = float(np.mean(np.where(pred == 1, p, 1 - p)))
    return accuracy, cbpe


def test_accuracy_of_version_2_is_lower(demo: dict[str, Any], batches: list[Batch]) -> None:
    perf = demo["result"]["findings"]["performance"]
    versions = perf["versions"]
    for version, batch, scorer, phase in zip(
        ("1", "2"), batches, (V1, V2), demo["result"]["phases"], strict=True
    ):
        accuracy, cbpe = expected_performance(batch, scorer)
        assert int(versions[version]["labelled"]) == phase["labels"] == sum(batch.send_label)
        assert versions[version]["accuracy"] == pytest.approx(accuracy, rel=1e-9)
        assert versions[version]["cbpe_accuracy"] == pytest.approx(cbpe, rel=1e-9)
    assert versions["2"]["accuracy"] < versions["1"]["accuracy"]
    drop = perf["accuracy_drift"]
    assert drop["difference"] < 0 and drop["p_value"] < 0.05


def test_report_run_and_clean_up(demo: dict[str, Any]) -> None:
    result = demo["result"]
    html = demo["report"].read_text()
    for name in FEATURES:
        assert name in html
    assert result["findings"]["report"]["path"] == str(demo["report"])
    run = result["findings"]["run"]
    # what driftline stored (GetRun) is what the training loop logged
    assert run["status"] == "FINISHED" and run["stored"]["steps"] == 20
    assert run["stored"]["loss"] == pytest.approx(run["final"]["loss"], rel=1e-12)
    assert run["stored"]["accuracy"] == pytest.approx(run["final"]["accuracy"], rel=1e-12)
    assert run["stored_params"] == {k: str(v) for k, v in run["params"].items()}
    with pytest.raises(ProcessLookupError):
        os.kill(result["collector_pid"], 0)  # SIGTERMed and reaped by the demo
    assert not result["kept"]
    for finding in result["findings"].values():
        if finding.get("skipped"):
            continue
        assert finding["commands"] and all(c.startswith("driftline ") for c in finding["commands"])


@pytest.fixture(scope="module")
def served(demo: dict[str, Any]) -> Iterator[ServerProcess]:
    """The demo's data dir served again, as the demo's closing line tells the user."""
    with ServerProcess(demo["data_dir"]) as server:
        yield server


def test_printed_commands_reproduce_the_findings(
    demo: dict[str, Any], served: ServerProcess
) -> None:
    findings = demo["result"]["findings"]
    server = ("--server", served.endpoints["query_grpc"])
    (drift_command,) = findings["drift"]["commands"]
    done = driftline(*shlex.split(drift_command)[1:], *server, "--json")
    assert done.returncode == 0, done.stderr
    again = {f["feature"]: f for f in json.loads(done.stdout)["windows"][0]["features"]}
    for name, feature in findings["drift"]["features"].items():
        assert again[name]["score"] == pytest.approx(feature["score"], rel=1e-12), name
    (latency_command,) = findings["latency"]["commands"]
    done = driftline(*shlex.split(latency_command)[1:], *server, "--json")
    assert done.returncode == 0, done.stderr
    regression = json.loads(done.stdout)["regression"]
    # proto3 JSON leaves out zeros: a p-value that underflowed to 0 is absent.
    assert regression.get("p_value", 0.0) == pytest.approx(findings["latency"]["p_value"])
    assert regression["cliffs_delta"] == pytest.approx(findings["latency"]["cliffs_delta"])
    assert regression["candidate_p50_ms"] == pytest.approx(findings["latency"]["candidate_p50_ms"])


def test_a_data_dir_in_use_fails_clearly_and_leaves_no_process(
    demo: dict[str, Any], served: ServerProcess
) -> None:
    endpoints = (demo["data_dir"] / "endpoints.json").read_text()
    done = driftline("demo", "--data-dir", str(demo["data_dir"]), "--duration", "short")
    assert done.returncode == 1
    assert "the collector exited early" in done.stderr and "locked" in done.stderr
    assert served.proc is not None and served.proc.poll() is None  # the owner is unharmed
    assert (demo["data_dir"] / "endpoints.json").read_text() == endpoints


def collectors_of(data_dir: Path) -> list[int]:
    """Live (not zombie) `driftline serve` processes on this data dir."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"serve" in cmdline and str(data_dir).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_killed_demo_leaves_no_collector(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "data"
    demo = subprocess.Popen(
        [sys.executable, "-m", "driftline", "demo", "--data-dir", str(data),
         "--report", str(tmp_path / "r.html")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not (data / "endpoints.json").exists():
            assert demo.poll() is None and time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.1)
        time.sleep(1.0)  # traffic is flowing
        assert len(collectors_of(data)) == 1
        demo.send_signal(sig)
        code = demo.wait(60)
        assert code == (130 if sig == signal.SIGTERM else -signal.SIGKILL)
        deadline = time.monotonic() + 60  # after SIGKILL the kernel's SIGTERM makes it drain
        while collectors_of(data):
            assert time.monotonic() < deadline, "the collector outlived the demo"
            time.sleep(0.2)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
        for pid in collectors_of(data):  # only if the assertion above failed
            os.kill(pid, signal.SIGKILL)


def test_bad_duration_is_refused() -> None:
    done = driftline("demo", "--duration", "soon")
    assert done.returncode == 2 and "--duration must be" in done.stderr


def test_the_quality_and_multivariate_findings(demo: dict[str, Any], batches: list[Batch]) -> None:
    """The missing-value burst and the correlation flip are found, exactly as sent."""
    findings = demo["result"]["findings"]
    quality = findings["quality"]
    _, cur = batches
    absent = sum(r[MISSING_FEATURE] is None for r in cur.rows) / len(cur.rows)
    assert quality["missing_share"] == pytest.approx(absent, abs=1e-12)
    assert quality["missing_alert"] and MISSING_FEATURE in quality["flagged_features"]
    sent = [r["merchant_category"] for r in cur.rows]
    assert quality["unseen_share"] == pytest.approx(sent.count(NEW_CATEGORY) / len(sent))
    assert quality["new_categories"] == [NEW_CATEGORY]
    multi = findings["multivariate"]
    assert multi["drifted"] and multi["alert"]
    assert multi["reconstruction_error"] > multi["upper_threshold"]
    drift = findings["drift"]["features"]
    assert not any(drift[name].get("drifted", False) for name in CORRELATED)
