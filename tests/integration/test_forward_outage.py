"""The downstream goes away under load, driftline is SIGKILLed and restarted while it is gone,
then it returns: every acknowledged span arrives; duplicates are whole re-sent requests, and
no more than the forwarder counted as resent."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.otlp_sink import OtlpSink
from tests.serve import ServerProcess

pytestmark = pytest.mark.crash

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SPANS = 200


def _request() -> tuple[bytes, list[bytes]]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "forward-outage"
    spans = rs.scope_spans.add().spans
    now = time.time_ns()
    ids = []
    for i in range(SPANS):
        s = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="infer", kind=2)
        s.start_time_unix_nano, s.end_time_unix_nano = now + i, now + i + 1000
        ids.append(s.span_id)
    return req.SerializeToString(), ids


class Load:
    """Threads sending Export RPCs until stopped; remembers the span ids acknowledged."""

    def __init__(self, endpoint: str, threads: int = 2) -> None:
        self.endpoint = endpoint
        self.acked: list[list[bytes]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        channel = grpc.insecure_channel(self.endpoint)
        export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        while not self._stop.is_set():
            body, ids = _request()
            try:
                export(body, timeout=10)
            except grpc.RpcError:
                time.sleep(0.05)  # the server is gone: not acknowledged, nothing promised
                continue
            with self._lock:
                self.acked.append(ids)
            time.sleep(0.01)
        channel.close()


def _metric(server: ServerProcess, name: str, **labels: str) -> float:
    url = f"http://{server.endpoints['metrics']}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    s = OtlpSink().start(0, 0)
    yield s
    s.close()


def test_outage_kill_restart_then_everything_arrives(tmp_path: Path, sink: OtlpSink) -> None:
    config = f"""
exporters:
  otlp:
    - name: downstream
      endpoint: {sink.grpc_endpoint}
      tls: {{insecure: true}}
      compression: gzip
      timeout: 1s
      retry_on_failure: {{initial_interval: 100ms, max_interval: 500ms}}
"""
    acked: list[list[bytes]] = []
    server = ServerProcess(tmp_path / "data", config=config).start()
    try:
        with Load(server.endpoints["otlp_grpc"]) as load:
            assert sink.wait_items(2000) >= 2000  # forwarding works under load
            sink.stop()  # the downstream goes away; load continues
            time.sleep(2.0)
            server.kill()  # SIGKILL while the downstream is down
        acked += load.acked
        server = ServerProcess(tmp_path / "data", config=config).start()
        with Load(server.endpoints["otlp_grpc"]) as load:
            time.sleep(1.5)  # the restarted server takes more load, downstream still down
        acked += load.acked
        expected = {i for ids in acked for i in ids}
        # the dead downstream held nobody up: ClickHouse has every acknowledged span already
        server.wait_for(
            f"SELECT count() >= {len(expected)} FROM otel_traces "
            "WHERE ServiceName = 'forward-outage'", 1, timeout_s=120,
        )  # fmt: skip
        sink.start()  # the downstream returns (same port)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not expected <= set(sink.span_ids()):
            time.sleep(0.2)
        received = sink.span_ids()
        missing = expected - set(received)
        assert not missing, f"{len(missing)} acknowledged spans never arrived"
        resent = _metric(server, "driftline_exporter_resent_items_total", exporter="downstream")
        lag = _metric(server, "driftline_wal_cursor_lag_records", cursor="forward:downstream")
    finally:
        server.terminate(30)
    duplicates = {i: n for i, n in received.items() if n > 1}
    # a duplicate is always a whole client request sent again, never part of one
    for ids in acked:
        assert len({received[i] for i in ids}) == 1, "a request arrived partly duplicated"
    extra = sum(n - 1 for n in duplicates.values())
    assert extra <= resent, f"{extra} duplicate spans but only {resent} counted as resent"
    assert lag == 0
    print(f"acked={len(expected)} received={sum(received.values())} dup={extra} resent={resent}")


def test_sigterm_with_a_dead_destination_drains_within_the_grace_period(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens here once the socket is closed
    config = f"""
exporters:
  otlp:
    - {{name: dead, endpoint: "127.0.0.1:{dead}", tls: {{insecure: true}}, timeout: 1s}}
"""
    server = ServerProcess(tmp_path / "data", config=config).start()
    channel = grpc.insecure_channel(server.endpoints["otlp_grpc"])
    export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    for _ in range(3):
        export(_request()[0], timeout=10)
    channel.close()
    server.wait_for("SELECT count() FROM otel_traces", 3 * SPANS)
    started = time.monotonic()
    assert server.terminate(60) == 0
    assert time.monotonic() - started < 30  # the 10 s grace, not forever
    ledger = json.loads((tmp_path / "data" / "wal" / "ledger.json").read_text())
    assert ledger["cursors"]["forward:dead"]["acked_through"] == 0  # kept for the next start
    assert ledger["cursors"]["clickhouse"]["acked_through"] == 3
