"""The OTLP retry rules against the in-process sink: which answers are retried, how long the
forwarder waits, and what is counted when it gives up."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from driftline.config.model import RetryConfig
from driftline.signals import Signal
from tests.integration.forwarding import Harness, metric, running_harness, running_sink, wait_until
from tests.otlp_sink import Answer, OtlpSink
from tests.unit.export.otlp import otlp_requests


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    yield from running_sink()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    yield from running_harness(tmp_path)


def _one_request(harness: Harness, sink: OtlpSink, spans: int = 10, **kw: object) -> str:
    dest = harness.dest(sink.http_endpoint if kw.get("protocol") == "http" else sink.grpc_endpoint,
                        **kw)  # type: ignore[arg-type]  # fmt: skip
    wal = harness.open(dest)
    wal.append(int(Signal.TRACES), otlp_requests.traces([[spans]]).SerializeToString())
    harness.start(dest)
    assert wait_until(lambda: harness.lag(dest) == 0), "the record was never acknowledged"
    return dest.name


def _gaps(sink: OtlpSink) -> list[float]:
    times = [r.at for r in sink.requests()]
    return [b - a for a, b in itertools.pairwise(times)]


def test_retry_info_delay_is_honoured(harness: Harness, sink: OtlpSink) -> None:
    sink.script(Answer(code=grpc.StatusCode.UNAVAILABLE, retry_delay_s=1.5),
                Answer(code=grpc.StatusCode.UNAVAILABLE))  # fmt: skip
    name = _one_request(harness, sink)
    assert len(sink.requests()) == 3 and sink.items() == 10
    first, second = _gaps(sink)
    assert first >= 1.5  # the server's delay, not the 50 ms backoff
    assert second < 1.0  # without RetryInfo: the configured (50 ms ± 10 %) backoff
    assert metric("retries", exporter=name, signal="traces", code="unavailable") == 2
    assert metric("resent_items", exporter=name, signal="traces", reason="retry") == 20
    assert metric("sent_items", exporter=name, signal="traces") == 10


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
     grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.DATA_LOSS],
)  # fmt: skip
def test_every_retryable_code_is_retried(
    harness: Harness, sink: OtlpSink, code: grpc.StatusCode
) -> None:
    sink.script(Answer(code=code))
    _one_request(harness, sink)
    assert [r.answered for r in sink.requests()] == ["failed", "ok"]


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED,
     grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL],
)  # fmt: skip
def test_permanent_errors_are_not_retried_but_counted(
    harness: Harness, sink: OtlpSink, code: grpc.StatusCode
) -> None:
    sink.script(Answer(code=code))
    name = _one_request(harness, sink, spans=7)
    assert len(sink.requests()) == 1  # acknowledged after one attempt
    assert metric("dropped_items", exporter=name, signal="traces", reason="permanent") == 7
    assert metric("sent_items", exporter=name, signal="traces") == 0


def test_resource_exhausted_is_retried_only_with_retry_info(
    harness: Harness, sink: OtlpSink
) -> None:
    sink.script(Answer(code=grpc.StatusCode.RESOURCE_EXHAUSTED))
    name = _one_request(harness, sink)
    assert len(sink.requests()) == 1
    assert metric("dropped_items", exporter=name, signal="traces", reason="permanent") == 10
    harness.fresh()
    sink.received.clear()
    sink.script(Answer(code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_delay_s=0.3))
    name = _one_request(harness, sink)
    assert [r.answered for r in sink.requests()] == ["failed", "ok"]
    assert _gaps(sink)[0] >= 0.3
    assert metric("sent_items", exporter=name, signal="traces") == 10


def test_partial_success_is_counted_and_not_retried(harness: Harness, sink: OtlpSink) -> None:
    sink.script(Answer(rejected=4, message="4 spans had no name"))
    name = _one_request(harness, sink, spans=10)
    assert len(sink.requests()) == 1
    assert metric("partial_rejected_items", exporter=name, signal="traces") == 4
    assert metric("sent_items", exporter=name, signal="traces") == 6


def test_giving_up_after_max_elapsed_time_drops_and_counts(
    harness: Harness, sink: OtlpSink
) -> None:
    sink.script(*[Answer(code=grpc.StatusCode.UNAVAILABLE)] * 1000)
    retry = RetryConfig(initial_interval_s=0.05, max_interval_s=0.1, max_elapsed_time_s=0.5)
    name = _one_request(harness, sink, retry_on_failure=retry)
    attempts = len(sink.requests())
    assert 3 <= attempts < 20 and sink.items() == 0
    assert metric("dropped_items", exporter=name, signal="traces", reason="retries_exhausted") == 10


def test_http_retry_after_is_honoured_and_400_is_not_retried(
    harness: Harness, sink: OtlpSink
) -> None:
    sink.script(Answer(http_status=503, retry_delay_s=1), Answer(http_status=429))
    name = _one_request(harness, sink, protocol="http")
    assert [r.answered for r in sink.requests()] == ["failed", "failed", "ok"]
    first, second = _gaps(sink)
    assert first >= 1.0 and second < 1.0
    assert metric("retries", exporter=name, signal="traces", code="http_503") == 1
    assert metric("retries", exporter=name, signal="traces", code="http_429") == 1
    harness.fresh()
    sink.received.clear()
    sink.script(Answer(http_status=400))
    name = _one_request(harness, sink, protocol="http", spans=3)
    assert len(sink.requests()) == 1
    assert metric("dropped_items", exporter=name, signal="traces", reason="permanent") == 3


def test_http_partial_success(harness: Harness, sink: OtlpSink) -> None:
    sink.script(Answer(rejected=2, message="two too old"))
    name = _one_request(harness, sink, protocol="http", spans=5)
    assert metric("partial_rejected_items", exporter=name, signal="traces") == 2
    assert metric("sent_items", exporter=name, signal="traces") == 3
