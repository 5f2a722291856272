"""Alert rules on the real engine: a p99 rule and a burn-rate rule over inferences built here
fire (after `for`) and resolve once fast traffic dilutes the slow tail; the webhook (a real
HTTP server on 127.0.0.1) receives the firing and resolved JSON, and the OTLP log events land
in otel_logs through the sink's inserter. Time is injected: no sleeps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client

from driftline.alerts.engine import AlertEngine
from driftline.alerts.measure import Measurer
from driftline.config.alerts import AlertRule
from driftline.config.model import SloConfig
from driftline.signals import Signal
from driftline.storage.client import Target, connect
from driftline.storage.inserter import ProtobufInserter
from tests.engine_db import fresh_database

NOW = time.time_ns()
S = 10**9
rng = np.random.default_rng(5)
SLOW = rng.uniform(60e6, 100e6, 300).astype(np.int64)  # 30 % of the traffic above 40 ms
FAST = rng.uniform(5e6, 10e6, 700).astype(np.int64)
DILUTION = rng.uniform(5e6, 10e6, 40_000).astype(np.int64)  # slow share → 0.7 %: p99 is fast


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()


def insert(client: Client, database: str, durations: np.ndarray[Any, Any]) -> None:
    ages = rng.integers(1 * S, 240 * S, durations.size)
    client.insert(
        "ml_inferences",
        [[NOW - int(a) for a in ages], ["m"] * durations.size, ["1"] * durations.size,
         [int(d) for d in durations], ["Ok"] * durations.size],
        column_names=["Timestamp", "ModelName", "ModelVersion", "Duration", "StatusCode"],
        column_oriented=True, database=database,
    )  # fmt: skip


@pytest.fixture
def db(chdb_dir: Path) -> Iterator[tuple[Client, Target]]:
    with fresh_database(chdb_dir, "alerts") as (client, target):
        yield client, target


def test_rules_fire_and_resolve_with_webhook_and_log_events(
    db: tuple[Client, Target], hook: str, tmp_path: Path
) -> None:
    client, target = db
    insert(client, target.database, np.concatenate([SLOW, FAST]))
    rules = [
        AlertRule(name="slow", kind="latency_p99_ms", model="m", threshold=40, window="5m",
                  for_s=60, severity="critical", labels={"team": "ml"}),
        AlertRule(name="budget", kind="burn_rate", model="m", threshold=14.4, window="1h"),
    ]  # fmt: skip
    slo = SloConfig(model="m", latency_s=0.04, target=0.99)
    events: list[bytes] = []
    clock = [1000.0]
    engine = AlertEngine(
        rules,
        Measurer(lambda: connect(target), target.database, slos=[slo], clock_ns=lambda: NOW),
        events.append, webhook_url=hook, webhook_attempts=2, clock=lambda: clock[0],
    )  # fmt: skip

    # t=1000: the burn rule (for 0) fires at once; p99 is breached but only pending
    assert [(t.rule.name, t.status) for t in engine.evaluate()] == [("budget", "firing")]
    before = np.concatenate([SLOW, FAST])
    assert engine.states["slow"].phase == "pending"
    assert engine.states["slow"].value == pytest.approx(np.percentile(before, 99) / 1e6)
    # burn = (bad / total) / (1 - target), both windows hold all of it: min(long, short) = that
    assert engine.states["budget"].value == pytest.approx((SLOW.size / before.size) / 0.01)
    clock[0] = 1059.0
    assert engine.evaluate() == []  # held 59 s of `for: 60s`
    clock[0] = 1060.0
    assert [(t.rule.name, t.status) for t in engine.evaluate()] == [("slow", "firing")]

    insert(client, target.database, DILUTION)  # the slow tail falls below 1 %
    clock[0] = 1120.0
    resolved = engine.evaluate()
    assert sorted((t.rule.name, t.status) for t in resolved) == [
        ("budget", "resolved"), ("slow", "resolved"),
    ]  # fmt: skip
    after = np.concatenate([before, DILUTION])
    assert engine.states["slow"].value == pytest.approx(np.percentile(after, 99) / 1e6)
    assert engine.states["slow"].value < 40

    # the webhook heard every transition, in order, as JSON
    got = [(h["alert"], h["status"]) for h in Hook.received]
    assert got[:2] == [("budget", "firing"), ("slow", "firing")]
    assert sorted(got[2:]) == [("budget", "resolved"), ("slow", "resolved")]
    slow_firing = Hook.received[1]
    assert slow_firing["severity"] == "critical" and slow_firing["labels"] == {"team": "ml"}
    assert slow_firing["value"] == pytest.approx(np.percentile(before, 99) / 1e6)
    assert slow_firing["threshold"] == 40 and slow_firing["at_unix"] == 1060.0
    slow_resolved = next(h for h in Hook.received[2:] if h["alert"] == "slow")
    assert slow_resolved["fired_at_unix"] == 1060.0

    # the OTLP log events, stored like any received log
    ProtobufInserter(client, target, tmp_path).insert(Signal.LOGS, events, "test-alerts")
    rows = client.query(
        f"SELECT LogAttributes['driftline.alert.alert'], LogAttributes['driftline.alert.status'], "
        f"SeverityText, ServiceName, EventName FROM {target.database}.otel_logs "
        "ORDER BY Timestamp, LogAttributes['driftline.alert.alert']"
    ).result_rows
    assert [tuple(r[:3]) for r in rows] == [
        ("budget", "firing", "WARN"), ("slow", "firing", "ERROR"),
        ("budget", "resolved", "INFO"), ("slow", "resolved", "INFO"),
    ]  # fmt: skip
    assert {(r[3], r[4]) for r in rows} == {("driftline", "driftline.alert")}


def test_no_data_changes_nothing_and_a_dead_webhook_does_not_stop_the_events(
    db: tuple[Client, Target],
) -> None:
    _, target = db
    rule = AlertRule(name="slow", kind="latency_p99_ms", model="m", threshold=40)
    events: list[bytes] = []
    measure = Measurer(lambda: connect(target), target.database, clock_ns=lambda: NOW)
    # port 9 on 127.0.0.1: nothing listens, the connection is refused (retryable, then given up)
    engine = AlertEngine([rule], measure, events.append, webhook_url="http://127.0.0.1:9/x",
                         webhook_attempts=1)  # fmt: skip
    assert engine.evaluate() == [] and engine.states["slow"].phase == "inactive"  # no rows
    insert(target_client := connect(target), target.database, SLOW)
    target_client.close()
    assert [t.status for t in engine.evaluate()] == ["firing"]
    assert len(events) == 1  # the log event went out although the webhook could not
