"""Alert rules: the state machine (for / resolve_after), OTLP events, the webhook with retries,
and the engine round that ties them together."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from driftline.alerts.engine import AlertEngine
from driftline.alerts.events import EVENT_NAME, transitions_request
from driftline.alerts.rules import AlertRule
from driftline.alerts.state import AlertState, step
from driftline.alerts.webhook import post_json
from driftline.errors import PermanentError, RetryableError

P99 = AlertRule(
    name="slow", kind="latency_p99_ms", model="fraud", threshold=250, for_s=120,
    resolve_after_s=60, severity="critical", labels={"team": "ml"},
)  # fmt: skip


def run(rule: AlertRule, series: list[tuple[float, float | None]]) -> list[tuple[str, float]]:
    state, out = AlertState(), []
    for now, value in series:
        state, transition = step(rule, state, value, now)
        if transition is not None:
            out.append((transition.status, transition.at))
    return out


def test_fires_only_after_for_and_resolves_after_resolve_after() -> None:
    series: list[tuple[float, float | None]] = [
        (0, 300),
        (60, 300),
        (100, 100),  # pending, then recovered: silent
        (200, 400),
        (260, 400),
        (320, 400),  # breached from 200: fires at 320 (held 120 s)
        (380, None),  # no data: nothing changes
        (440, 100),
        (470, 400),
        (500, 100),
        (559, 100),
        (560, 100),  # resolves 60 s after 500
    ]
    assert run(P99, series) == [("firing", 320), ("resolved", 560)]


def test_for_zero_fires_at_the_first_breach_and_nan_never_breaches() -> None:
    rule = AlertRule(name="drift", kind="drift_share", model="m", threshold=0.5)
    assert run(rule, [(0, float("nan")), (1, 0.6), (2, 0.4)]) == [("firing", 1), ("resolved", 2)]


@given(st.lists(st.one_of(st.none(), st.floats(0, 1000)), max_size=40))
def test_firing_and_resolved_alternate_and_start_with_firing(values: list[float | None]) -> None:
    statuses = [s for s, _ in run(P99, [(i * 30.0, v) for i, v in enumerate(values)])]
    assert statuses == ["firing", "resolved"] * (len(statuses) // 2) + (
        ["firing"] if len(statuses) % 2 else []
    )


def test_transitions_become_otlp_log_events() -> None:
    rule = AlertRule(name="slow", kind="latency_p99_ms", model="fraud", threshold=250)
    _, firing = step(rule, AlertState(), 300.0, 1000.0)
    assert firing is not None
    request = ExportLogsServiceRequest.FromString(transitions_request([firing]))
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    attrs = {kv.key: kv.value for kv in record.attributes}
    assert record.event_name == EVENT_NAME and record.severity_text == "WARN"
    assert attrs["driftline.alert.status"].string_value == "firing"
    assert attrs["driftline.alert.value"].double_value == 300.0
    assert attrs["ml.model.name"].string_value == "fraud"
    assert record.time_unix_nano == 1000 * 10**9
    assert "slow" in record.body.string_value


class Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code = self.answers.pop(0) if self.answers else 200
        if code == 200:
            self.received.append(body)
        self.send_response(code)
        if code == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.answers, Hook.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()


def test_webhook_retries_5xx_and_429_not_4xx(hook: str) -> None:
    sleeps: list[float] = []
    Hook.answers = [503, 429, 200]
    post_json(hook, {"a": 1}, sleep=sleeps.append)
    assert Hook.received == [{"a": 1}] and len(sleeps) == 2
    Hook.answers = [400]
    with pytest.raises(PermanentError, match="400"):
        post_json(hook, {"a": 2}, sleep=sleeps.append)
    assert len(sleeps) == 2  # not retried
    Hook.answers = [500] * 5
    with pytest.raises(RetryableError):
        post_json(hook, {"a": 3}, attempts=3, sleep=sleeps.append)


def test_engine_round_emits_events_and_posts_the_webhook(hook: str) -> None:
    values = {"slow": 300.0, "drift": 0.1}
    rules = [
        AlertRule(name="slow", kind="latency_p99_ms", model="fraud", threshold=250),
        AlertRule(name="drift", kind="drift_share", model="fraud", threshold=0.5),
    ]
    emitted: list[bytes] = []
    now = [0.0]
    engine = AlertEngine(
        rules, lambda r: values[r.name], emitted.append, webhook_url=hook, clock=lambda: now[0]
    )
    assert [t.rule.name for t in engine.evaluate()] == ["slow"]
    assert len(emitted) == 1 and Hook.received[0]["alert"] == "slow"
    assert Hook.received[0]["status"] == "firing"
    values["slow"] = 10.0
    now[0] = 60.0
    assert [(t.rule.name, t.status) for t in engine.evaluate()] == [("slow", "resolved")]
    assert Hook.received[-1]["status"] == "resolved"
    assert engine.evaluate() == []
