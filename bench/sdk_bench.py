"""Caller-thread overhead of `track_inference` with 10 features (target ≤ 15 µs p50).

Spans go to a BatchSpanProcessor with an exporter that drops them, so what is timed is the work
on the caller's thread: span start, attributes, end, enqueue. Baseline = the bare function.

    python bench/sdk_bench.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

import numpy as np
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from driftline import sdk


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def timed(fn: object, features: dict[str, float], calls: int) -> np.ndarray:
    out = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        t0 = clock()
        fn(features)  # type: ignore[operator]
        out[i] = clock() - t0
    return out / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=65536))
    features = {f"f{i}": float(i) for i in range(10)}

    def bare(features: dict[str, float]) -> float:
        return 0.5

    tracked = sdk.track_inference(model="bench", version="1", tracer_provider=provider)(bare)
    sampled = sdk.track_inference(model="bench", sample_rate=0.1, tracer_provider=provider)(bare)
    timed(tracked, features, 10_000)  # warm up
    report = {}
    for name, fn in (("bare", bare), ("tracked_10_features", tracked), ("sampled_10pct", sampled)):
        us = timed(fn, features, args.calls)
        report[name] = {
            "p50_us": round(float(np.percentile(us, 50)), 2),
            "p99_us": round(float(np.percentile(us, 99)), 2),
        }
    provider.shutdown()
    print(json.dumps({"calls": args.calls, **report}, indent=2))


if __name__ == "__main__":
    main()
