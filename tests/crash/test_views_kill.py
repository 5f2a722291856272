"""SIGKILL the collector between a trace batch's parent insert and its views: every table the
batch feeds (otel_traces, the trace-id table, ml_inferences, and a probe view's table) must
end up with every acknowledged span exactly once after the replay.

A probe view on otel_traces (itself a view of the span staging table) sleeps 1 s per block,
after otel_traces committed its part, so a kill during the load lands, with near certainty,
between the parent's commit and the views below it. The test
checks on the engine (a subprocess, after the kill) that it did leave tables disagreeing
before it checks the replay.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crash.test_server_kill import SPANS_PER_REQUEST, Load, _wait_for_sink
from tests.serve import ServerProcess

pytestmark = pytest.mark.crash

_ENGINE_SCRIPT = """
import json, sys
from driftline.storage.client import Target, connect
from driftline.storage.migrate import migrate
from driftline.storage.schema import DdlContext
client = connect(Target(embedded_path=sys.argv[1]))
if sys.argv[2] == "setup":
    migrate(client, DdlContext())
    client.command(
        "CREATE TABLE IF NOT EXISTS probe (n UInt64) ENGINE = MergeTree ORDER BY n "
        "SETTINGS non_replicated_deduplication_window = 1000")
    client.command(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS zz_probe_mv TO probe AS "
        "SELECT toUInt64(toUnixTimestamp64Nano(Timestamp)) + sleep(1) AS n FROM otel_traces")
else:
    print(json.dumps({t: int(client.command(f"SELECT count() FROM {t}"))
                      for t in ("otel_traces", "ml_inferences", "probe")}))
"""


def _engine(data_dir: Path, action: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _ENGINE_SCRIPT, str(data_dir / "clickhouse"), action],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(out.stdout) if action == "count" else {}


def test_sigkill_between_the_parent_insert_and_its_views_replays_exactly_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _engine(data_dir, "setup")
    rng = random.Random(20261202)
    acked: set[str] = set()
    config = "exporters: {clickhouse: {batch: {flush_interval: 200ms}}}\n"
    torn = 0
    for trial in range(3):
        server = ServerProcess(data_dir, config=config).start()
        with Load(server.endpoints["otlp_grpc"], trial, threads=2) as load:
            time.sleep(rng.uniform(1.5, 3.0))
            server.kill()
        acked |= load.acked
        counts = _engine(data_dir, "count")
        torn += len(set(counts.values())) > 1  # some views had the block, others not
    assert torn, "no kill landed between the views; the test proved nothing"

    with ServerProcess(data_dir, config=config) as server:
        _wait_for_sink(server, timeout_s=300)
        rows = server.sql(
            "SELECT ResourceAttributes['batch'] AS b, count(), uniqExact(SpanId) "
            "FROM otel_traces WHERE ServiceName = 'crash-test' GROUP BY b"
        )
        totals = server.sql(
            "SELECT (SELECT count() FROM otel_traces), (SELECT count() FROM ml_inferences), "
            "(SELECT uniqExact(InferenceId) FROM ml_inferences), (SELECT count() FROM probe), "
            "(SELECT uniqExact(TraceId) FROM otel_traces), "
            "(SELECT uniqExact(TraceId) FROM otel_traces_trace_id_ts)"
        )[0]
    stored = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    assert acked <= stored.keys(), f"lost: {sorted(acked - stored.keys())[:3]}"
    assert all(c == (SPANS_PER_REQUEST, SPANS_PER_REQUEST) for c in stored.values()), stored
    spans, inferences, unique_inferences, probe, trace_ids, lookup_ids = map(int, totals)
    assert spans == len(stored) * SPANS_PER_REQUEST
    assert inferences == unique_inferences == spans  # ml_inferences: once each
    assert probe == spans  # the view the kill interrupted: once each
    assert lookup_ids == trace_ids
