"""Derived signals on the real engine: one round over constructed inferences and features, its
OTLP gauges inserted by the real sink inserter into otel_metrics_gauge, and every value checked
against numpy/scipy on the same data; the same values on a /metrics scrape; empty windows
skipped and counted; a failing model does not stop the others and is logged once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats

from driftline.alerts.measure import Measurer
from driftline.config.alerts import AlertRule
from driftline.config.derived import DerivedConfig, DerivedDriftConfig
from driftline.config.model import SloConfig
from driftline.errors import WalFullError
from driftline.export.derived import DerivedCollector, DerivedSignals
from driftline.export.derived.loop import FAILURES, SKIPPED
from driftline.export.derived.types import Snapshot
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.inserter import ProtobufInserter
from tests.engine_db import fresh_database

NOW = time.time_ns()
S = 10**9
HOUR = 3600 * S
rng = np.random.default_rng(3)
# inferences in the last 5 minutes (the latency window), per (model, version)
DURATIONS = {
    ("fraud", "1"): rng.lognormal(np.log(20e6), 0.5, 2000).astype(np.int64),
    ("fraud", "2"): rng.lognormal(np.log(30e6), 0.3, 500).astype(np.int64),
    ("boom", "1"): rng.lognormal(np.log(10e6), 0.3, 300).astype(np.int64),
    ("newcomer", "1"): rng.lognormal(np.log(10e6), 0.3, 200).astype(np.int64),
}
AGES = {k: rng.integers(1 * S, 290 * S, v.size) for k, v in DURATIONS.items()}
ERRORS = {k: rng.random(v.size) < 0.03 for k, v in DURATIONS.items()}
# features: reference (25h..1h ago) and current (the last hour); fraud v2 has none at all,
# newcomer only current ones (no reference: an empty window, skipped)
REF_X, CUR_X = rng.normal(0, 1, 600), rng.normal(0.4, 1, 500)
REF_Y, CUR_Y = rng.normal(5, 2, 600), rng.normal(5, 2, 500)
SLO = SloConfig(model="fraud", version="1", latency_s=0.03, target=0.99)
CFG = DerivedConfig(
    enabled=True,
    latency_window_s=300,
    drift=DerivedDriftConfig(window_s=3600, reference_s=24 * 3600),
)


def _insert(client: Client, database: str) -> None:
    inf: dict[str, list[Any]] = {
        c: [] for c in ("Timestamp", "ModelName", "ModelVersion", "SpanName", "Duration",
                        "StatusCode")
    }  # fmt: skip
    for (model, version), durations in DURATIONS.items():
        for d, age, err in zip(
            durations, AGES[model, version], ERRORS[model, version], strict=True
        ):
            inf["Timestamp"].append(NOW - int(age))
            inf["ModelName"].append(model)
            inf["ModelVersion"].append(version)
            inf["SpanName"].append("predict")
            inf["Duration"].append(int(d))
            inf["StatusCode"].append("Error" if err else "Ok")
    client.insert("ml_inferences", [inf[c] for c in inf], column_names=list(inf),
                  column_oriented=True, database=database)  # fmt: skip
    feat: dict[str, list[Any]] = {
        c: [] for c in ("ModelName", "ModelVersion", "Feature", "Timestamp", "Kind", "Value")
    }
    parts = [
        ("fraud", "x", REF_X, CUR_X), ("fraud", "y", REF_Y, CUR_Y),
        ("boom", "x", REF_X, CUR_X), ("newcomer", "x", np.zeros(0), CUR_X),
    ]  # fmt: skip
    for model, name, ref, cur in parts:
        for start, span, values in ((NOW - 25 * HOUR, 24 * HOUR, ref), (NOW - HOUR, HOUR, cur)):
            n = len(values)
            feat["ModelName"] += [model] * n
            feat["ModelVersion"] += ["1"] * n
            feat["Feature"] += [name] * n
            feat["Timestamp"] += [int(start + (i + 1) * (span // (n + 2))) for i in range(n)]
            feat["Kind"] += ["numerical"] * n
            feat["Value"] += [float(v) for v in values]
    client.insert("ml_features", [feat[c] for c in feat], column_names=list(feat),
                  column_oriented=True, database=database)  # fmt: skip


@pytest.fixture(scope="module")
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "derived") as (client, target):
        _insert(client, target.database)
        yield client, target


class Round:
    """One derived round at NOW, its payloads stored through the sink's real inserter."""

    def __init__(self, db: tuple[Client, Target], tmp: Path) -> None:
        client, target = db
        self.payloads: list[bytes] = []
        self.verdicts: list[tuple[str, str, bool, float]] = []

        def on_drift(model: str, version: str, detected: bool, share: float) -> None:
            if model == "boom":
                raise RuntimeError("the enrichment cache is broken for boom")
            self.verdicts.append((model, version, detected, share))

        self.signals = DerivedSignals(
            CFG, lambda: connect(target), target.database, self.payloads.append,
            slos=[SLO], on_drift=on_drift, clock_ns=lambda: NOW,
        )  # fmt: skip
        self.inserter = ProtobufInserter(client, target, tmp)

    def tick(self, token: str) -> Snapshot:
        snapshot = self.signals.tick()
        self.inserter.insert(Signal.METRICS, self.payloads[-1:], f"test-{token}")
        return snapshot


@pytest.fixture(scope="module")
def stored(
    db: tuple[Client, Target], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Round, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """The first round's gauges as stored: {(name, sorted attributes): value}."""
    client, target = db
    r = Round(db, tmp_path_factory.mktemp("derived-tmp"))
    r.tick("1")
    rows = client.query(
        f"SELECT MetricName, Attributes, Value, MetricUnit, ServiceName, "
        f"toUnixTimestamp64Nano(TimeUnix) FROM {target.database}.otel_metrics_gauge"
    ).result_rows
    assert {(row[4], row[5]) for row in rows} == {("driftline", NOW)}
    units = {row[0]: row[3] for row in rows}
    assert units["driftline.latency"] == "s" and units["driftline.drift.score"] == "1"
    return r, {(row[0], tuple(sorted(row[1].items()))): row[2] for row in rows}


def _key(name: str, **attrs: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(attrs.items()))


def test_latency_and_error_rate_gauges_equal_numpys(stored: Any) -> None:
    _, gauges = stored
    for (model, version), durations in DURATIONS.items():
        for q in (0.5, 0.9, 0.95, 0.99):
            got = gauges[_key("driftline.latency", model=model, version=version, quantile=f"{q:g}")]
            assert got == pytest.approx(np.percentile(durations, q * 100) / 1e9, rel=1e-12)
        mv = {"model": model, "version": version}
        assert gauges[_key("driftline.error_rate", **mv)] == pytest.approx(
            ERRORS[model, version].mean(), rel=1e-12
        )
        assert gauges[_key("driftline.inferences", **mv)] == durations.size


def test_drift_gauges_equal_scipys(stored: Any) -> None:
    r, gauges = stored
    mv = {"model": "fraud", "version": "1"}
    p = {f: stats.ks_2samp(ref, cur).pvalue for f, ref, cur in (("x", REF_X, CUR_X),
                                                                 ("y", REF_Y, CUR_Y))}  # fmt: skip
    for feature, expected in p.items():
        got = gauges[_key("driftline.drift.score", **mv, feature=feature, method="ks")]
        assert got == pytest.approx(expected, rel=1e-9)
        assert gauges[_key("driftline.drift.threshold", **mv, feature=feature, method="ks")] == 0.05
    share = np.mean([v < 0.05 for v in p.values()])
    assert share == 0.5  # the data is built for it: x shifted, y not
    assert gauges[_key("driftline.drift.share", **mv)] == share
    assert gauges[_key("driftline.drift.detected", **mv)] == 1.0  # share 0.5 >= drift_share 0.5
    # the enrichment callback heard the verdict (boom's raised; it is logged, not fatal)
    assert ("fraud", "1", True, 0.5) in r.verdicts


def test_burn_rates_equal_a_numpy_computation(stored: Any) -> None:
    _, gauges = stored
    durations, ages = DURATIONS["fraud", "1"], AGES["fraud", "1"]
    bad = (durations > 30e6) | ERRORS["fraud", "1"]
    for window, seconds in (("5m", 300), ("30m", 1800), ("1h", 3600), ("6h", 21600),
                            ("3d", 259200)):  # fmt: skip
        inside = ages <= seconds * S
        got = gauges[_key("driftline.slo.burn_rate", model="fraud", version="1",
                          slo="30ms@0.99", window=window)]  # fmt: skip
        assert got == pytest.approx(bad[inside].mean() / 0.01, rel=1e-9)


def test_empty_windows_are_skipped_and_a_failing_model_does_not_stop_the_others(
    db: tuple[Client, Target], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = Round(db, tmp_path)
    skipped, failed = SKIPPED.labels("drift")._value.get(), FAILURES.labels("on_drift")._value.get()
    with caplog.at_level(logging.WARNING, logger="driftline.export.derived.loop"):
        first, second = r.tick("a"), r.tick("b")
    by = {(m.model, m.version): m for m in second.models}
    assert set(by) == set(DURATIONS)  # every model and version of the last 5 minutes
    # fraud v2 has no features, newcomer no reference: no drift, latency all the same
    assert by["fraud", "2"].drift is None and by["newcomer", "1"].drift is None
    assert by["newcomer", "1"].latency is not None and by["fraud", "2"].latency is not None
    assert SKIPPED.labels("drift")._value.get() - skipped == 4  # 2 per round
    # boom's on_drift raised each round: counted twice, logged once; the models after it ran
    assert FAILURES.labels("on_drift")._value.get() - failed == 2
    assert by["boom", "1"].drift is not None and by["newcomer", "1"].latency is not None
    assert [rec.message for rec in caplog.records].count(caplog.records[0].message) == 1
    assert "boom" in caplog.records[0].message and len(caplog.records) == 1
    assert first == second  # same data, same clock: the same round


def test_prometheus_collector_serves_the_same_values(stored: Any) -> None:
    r, gauges = stored
    registry = CollectorRegistry()
    registry.register(DerivedCollector(lambda: r.signals.latest))
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values() for s in f.samples
    }  # fmt: skip
    p99 = np.percentile(DURATIONS["fraud", "1"], 99) / 1e9
    key = (
        "driftline_latency_seconds",
        (("model", "fraud"), ("quantile", "0.99"), ("version", "1")),
    )
    assert samples[key] == pytest.approx(p99, rel=1e-12)
    assert samples[("driftline_drift_share", (("model", "fraud"), ("version", "1")))] == 0.5
    # every stored gauge is on /metrics under its Prometheus name, with the same value
    assert len(samples) == len(gauges)
    for (name, attrs), value in gauges.items():
        prom = name.replace(".", "_") + ("_seconds" if name == "driftline.latency" else "")
        assert samples[prom, attrs] == pytest.approx(value, rel=1e-12, nan_ok=True)


def test_alert_measurements_equal_the_derived_values(db: tuple[Client, Target]) -> None:
    _, target = db
    measure = Measurer(lambda: connect(target), target.database, clock_ns=lambda: NOW)

    def rule(kind: str, **kw: Any) -> AlertRule:
        return AlertRule(name=kind, kind=kind, model="fraud", version="1", threshold=1, **kw)  # type: ignore[arg-type]

    assert measure(rule("drift_share")) == 0.5
    expected_x = stats.ks_2samp(REF_X, CUR_X).pvalue
    assert measure(rule("feature_score", feature="x")) == pytest.approx(expected_x, rel=1e-9)
    durations = DURATIONS["fraud", "1"]
    assert measure(rule("latency_p99_ms")) == pytest.approx(np.percentile(durations, 99) / 1e6)
    assert measure(rule("error_rate")) == pytest.approx(ERRORS["fraud", "1"].mean())
    # no data: None, so the state machine changes nothing
    assert measure(AlertRule(name="n", kind="latency_p99_ms", model="nope", threshold=1)) is None
    assert measure(AlertRule(name="n", kind="drift_share", model="nope", threshold=1)) is None


def test_a_refused_submit_keeps_the_round_for_metrics_and_is_counted(
    db: tuple[Client, Target], caplog: pytest.LogCaptureFixture
) -> None:
    _, target = db

    def wal_full(payload: bytes) -> None:
        raise WalFullError("the WAL is at its size cap", delay_s=5)

    signals = DerivedSignals(
        CFG, lambda: connect(target), target.database, wal_full, clock_ns=lambda: NOW
    )
    before = FAILURES.labels("submit")._value.get()
    with caplog.at_level(logging.WARNING, logger="driftline.export.derived.loop"):
        snapshot = signals.tick()
    assert FAILURES.labels("submit")._value.get() - before == 1
    assert signals.latest is snapshot and len(snapshot.models) == len(DURATIONS)
    assert "submit" in caplog.text and "size cap" in caplog.text
