"""Processor throughput on 1000-span requests: what redaction and enrichment add to ingest.

Each case times the ingest hook end to end on one core: `inspect` (parse + validate) of the
received bytes, then the transform, then re-serialization when it changed something — exactly
what a receiver does before the WAL. Spans carry 12 attributes (model, features, HTTP keys, a
free-text message). Cases:

- baseline        no processors (parse + validate only: today's hot path)
- redact_clean    e-mail + card patterns, a dropped and a hashed key; no personal data in the
                  request (the byte-level shortcut skips the walk)
- redact_dirty    same rules; every span has an e-mail and a hashed user id (walk + re-serialize)
- redact_sparse   same rules; 1 span in 100 has them (only those spans are walked)
- redact_regex    a user regex as well, clean request (no shortcut: always a full walk)
- enrich          forward-side enrichment: model identity, SLO breach, drift verdict (+ serialize)

    python bench/processors_bench.py [--spans 1000] [--seconds 2]

One JSON object on stdout: spans/s per case, per wall second and per CPU second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from driftline.config.model import AnalysisConfig, DriftlineConfig, SloConfig
from driftline.config.processors import (
    EnrichmentConfig,
    PatternConfig,
    ProcessorsConfig,
    RedactionConfig,
)
from driftline.processors import DriftVerdictCache, build_forward_transform, build_ingest_transform
from driftline.receiver.validate import inspect, parse_request
from driftline.signals import Signal


def request(spans: int, dirty: bool, every: int = 1) -> bytes:
    """`dirty`: every `every`-th span has an e-mail in its message and a user id to hash."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for key, value in (("service.name", "scorer"), ("service.version", "7")):
        rs.resource.attributes.add(key=key).value.string_value = value
    ss = rs.scope_spans.add()
    for i in range(spans):
        span = ss.spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name="predict")
        span.start_time_unix_nano = time.time_ns()
        span.end_time_unix_nano = span.start_time_unix_nano + (i % 400) * 1_000_000
        a = span.attributes
        a.add(key="gen_ai.request.model").value.string_value = "fraud"
        a.add(key="ml.inference.id").value.string_value = f"inf-{i}"
        for f in range(5):
            a.add(key=f"ml.feature.f{f}").value.double_value = i * 0.1 + f
        a.add(key="ml.feature.country").value.string_value = "DE"
        a.add(key="http.route").value.string_value = "/v1/predict"
        a.add(key="http.status_code").value.int_value = 200
        pii = dirty and i % every == 0
        a.add(key="user.id" if pii else "user.ref").value.string_value = f"user-{i}"
        text = f"scored for user{i}@example.com" if pii else f"scored request {i} in 12 ms"
        a.add(key="message").value.string_value = text
    return req.SerializeToString()


def config(patterns: tuple[PatternConfig, ...], enrichment: EnrichmentConfig) -> DriftlineConfig:
    redaction = RedactionConfig(
        drop_keys=("user.password",), hash_keys=("user.ssn",), patterns=patterns
    )
    return DriftlineConfig(
        processors=ProcessorsConfig(redaction=redaction, enrichment=enrichment),
        analysis=AnalysisConfig(slos=(SloConfig(model="fraud", latency_s=0.25),)),
    )


def ingest_case(cfg: DriftlineConfig | None, data: bytes) -> Callable[[], None]:
    transform = None if cfg is None else build_ingest_transform(cfg, DriftVerdictCache())

    def run() -> None:
        inspection = inspect(Signal.TRACES, data, 1024)
        request = inspection.request
        if transform is not None and request is not None:
            changed = transform(Signal.TRACES, request, inspection.payload)
            if changed:  # as the receivers do: re-serialize only on a change
                request.SerializeToString()

    return run


def enrich_case(data: bytes) -> Callable[[], None]:
    cache = DriftVerdictCache()
    cache.update("fraud", "", True, 0.3, time.time())
    cfg = config((), EnrichmentConfig(normalize_model=True, slo=True, drift=True))
    transform = build_forward_transform(cfg, cache)
    assert transform is not None

    def run() -> None:
        message = parse_request(Signal.TRACES, data)
        transform(Signal.TRACES, message)
        message.SerializeToString()

    return run


def rate(run: Callable[[], None], spans: int, seconds: float) -> dict[str, int]:
    """Spans per wall second and per CPU second of this (single) thread: on a shared machine
    the CPU figure is the stable one."""
    run()  # warm-up
    n, started, cpu_started = 0, time.perf_counter(), time.thread_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        run()
        n += 1
    cpu = time.thread_time() - cpu_started
    return {"wall": round(n * spans / elapsed), "cpu": round(n * spans / cpu)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    clean, dirty = request(args.spans, False), request(args.spans, True)
    builtins = (PatternConfig(name="email"), PatternConfig(name="credit_card"))
    user = (*builtins, PatternConfig(name="ticket", regex=r"TCK-[0-9]{6}"))
    none = EnrichmentConfig()
    dirty_cfg = DriftlineConfig(
        processors=ProcessorsConfig(
            redaction=RedactionConfig(hash_keys=("user.id",), patterns=builtins)
        )
    )
    cases = {
        "baseline": ingest_case(None, clean),
        "redact_clean": ingest_case(config(builtins, none), clean),
        "redact_dirty": ingest_case(dirty_cfg, dirty),
        "redact_sparse": ingest_case(dirty_cfg, request(args.spans, True, every=100)),
        "redact_regex": ingest_case(config(user, none), clean),
        "enrich": enrich_case(clean),
    }
    result: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}",
        "spans_per_request": args.spans,
        "request_bytes": {"clean": len(clean), "dirty": len(dirty)},
    }
    result["spans_per_s"] = {
        name: rate(run, args.spans, args.seconds) for name, run in cases.items()
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
