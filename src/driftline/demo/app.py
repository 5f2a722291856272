"""`driftline demo` end to end: collector, model server, traffic, findings, report, clean-up.

    collector (child process, free ports, temp or given data dir)
      ▲ OTLP gRPC                        ▲ query API (GetDrift, GetLatency, GetPerformance, …)
    model server (this process, SDK) ◀── traffic (paced, seeded)        findings ──▶ HTML report

The order matters in three places: the SDK is flushed and shut down before anything is queried;
the queries wait until the sink's WAL cursor lag is 0 *and* every inference and label sent can
be read back; the collector is stopped (SIGTERM) in a `finally`, so a failure or Ctrl-C leaves
no process behind, unless `keep` was asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from driftline.demo.collector import Collector
from driftline.demo.model import MODEL_NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    duration_s: float
    data_dir: Path | None = None
    keep: bool = False
    report: Path = Path("driftline-demo-report.html")
    seed: int = 7


def _configure_sdk(otlp_grpc: str) -> Any:
    # Short export delays: the demo's queries wait for the data, so sooner is better. setdefault:
    # a user's own OTEL_* settings win.
    for name, value in (("OTEL_BSP_SCHEDULE_DELAY", "200"), ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
                        ("OTEL_BSP_MAX_QUEUE_SIZE", "16384"),
                        ("OTEL_BLRP_MAX_QUEUE_SIZE", "16384")):  # fmt: skip
        os.environ.setdefault(name, value)
    from driftline import sdk

    return sdk.configure(service_name="fraud-demo-api", endpoint=f"http://{otlp_grpc}")


def run_demo(opts: DemoOptions, stream: TextIO | None = None) -> dict[str, Any]:
    """Run the whole demo; the result (what `--json` prints). Raises on failure, after clean-up."""
    from driftline.client import Client
    from driftline.demo import findings, scenario
    from driftline.demo.server import ModelServer
    from driftline.demo.training import read_back, training_run

    stream = stream if stream is not None else sys.stderr
    temporary = opts.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="driftline-demo-")) if temporary else opts.data_dir
    assert data_dir is not None
    collector = Collector(data_dir, die_with_parent=not opts.keep)
    kept = False
    try:
        print(f"starting the collector (embedded ClickHouse) in {data_dir} …", file=stream,
              flush=True)  # fmt: skip
        endpoints = collector.start()
        configured = _configure_sdk(endpoints["otlp_grpc"])
        server = ModelServer().start()
        try:
            phases = scenario.run(
                server, scenario.plan(opts.duration_s), seed=opts.seed, stream=stream
            )
            cmd = findings.Commands(endpoints["query_grpc"] if opts.keep else None)
            print("training run …", file=stream, flush=True)
            run = training_run(opts.seed, cmd, endpoint=f"http://{endpoints['otlp_grpc']}")
        finally:
            server.stop()
            configured.shutdown()  # every span and label exported before we look
        print("waiting for the collector to store everything …", file=stream, flush=True)
        collector.wait_caught_up()
        with Client(endpoints["query_grpc"], token="", timeout=60.0) as client:
            if run is not None:
                run = read_back(run, client)
            findings.wait_stored(client, phases)
            print("asking driftline what it found …", file=stream, flush=True)
            baseline, shifted = phases
            drift, drift_response = findings.drift(client, baseline, shifted, cmd)
            found = [
                drift,
                findings.latency(client, baseline, shifted, cmd),
                findings.performance(client, baseline, shifted, cmd),
                findings.quality(client, baseline, shifted, cmd),
                findings.multivariate(client, baseline, shifted, cmd),
            ]
        if run is None:
            run = findings.Finding(
                "run", "Training run",
                lines=["skipped: run tracking (driftline.sdk.runs) is not installed"],
                data={"skipped": "driftline.sdk.runs is not installed"},
            )  # fmt: skip
        found.append(run)
        found.append(findings.report(drift_response, baseline, shifted, opts.report, cmd))
        kept = opts.keep
        return {
            "model": MODEL_NAME,
            "data_dir": str(data_dir),
            "kept": kept,
            "collector_pid": collector.pid,
            "endpoints": endpoints,
            "phases": [
                {"name": p.name, "title": p.title, "version": p.version, "start": p.start,
                 "end": p.end, "start_unix_nano": p.start_ns, "end_unix_nano": p.end_ns,
                 "inferences": p.inferences, "labels": p.labels, "errors": p.errors}
                for p in phases
            ],
            "findings": {f.key: {"title": f.title, "lines": f.lines, "commands": f.commands,
                                 **f.data} for f in found},
        }  # fmt: skip
    finally:
        if not kept:
            collector.stop()
            if temporary:
                shutil.rmtree(data_dir, ignore_errors=True)
