"""A small OTLP/gRPC load generator with inference-shaped spans (the bench's own, not a test).

Worker processes pre-build a pool of distinct ExportTraceServiceRequest messages of N spans
(model name/version, inference id, ml.feature.* values, prediction, HTTP attributes), then send
them as raw bytes with `concurrency` RPCs in flight each, closed-loop (as fast as acknowledged)
or paced to a target rate. Each worker reports acked spans, errors by code and RPC latencies.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

MODELS = (
    ("xgb-fraud", "17", 0.004),
    ("bert-sentiment", "2024.06.1", 0.018),
    ("resnet50", "3", 0.03),
)
COUNTRIES = ("US", "DE", "BR", "IN", "NG", "JP")
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def build_request(spans: int, rng: random.Random) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for key, value in (
        ("service.name", "ml-inference-server"),
        ("service.version", "2.8.0"),
        ("host.name", f"gpu-node-{rng.randrange(16):02d}"),
    ):
        rs.resource.attributes.add(key=key).value.string_value = value
    ss = rs.scope_spans.add()
    ss.scope.name = "driftline.bench"
    now = time.time_ns()
    for _ in range(spans):
        model, version, median = rng.choice(MODELS)
        span = ss.spans.add()
        span.trace_id = os.urandom(16)
        span.span_id = os.urandom(8)
        span.name = f"POST /v2/models/{model}/infer"
        span.kind = 2
        duration = int(rng.lognormvariate(0, 0.5) * median * 1e9)
        span.start_time_unix_nano = now - duration - rng.randrange(1_000_000_000)
        span.end_time_unix_nano = span.start_time_unix_nano + duration
        attrs = span.attributes
        attrs.add(key="ml.model.name").value.string_value = model
        attrs.add(key="ml.model.version").value.string_value = version
        attrs.add(key="ml.inference.id").value.string_value = os.urandom(16).hex()
        attrs.add(key="ml.feature.age").value.double_value = round(rng.gauss(40, 12), 1)
        attrs.add(key="ml.feature.txn_amount").value.double_value = round(rng.expovariate(0.01), 2)
        attrs.add(key="ml.feature.tenure_days").value.int_value = rng.randrange(3000)
        attrs.add(key="ml.feature.country").value.string_value = rng.choice(COUNTRIES)
        attrs.add(key="ml.prediction").value.double_value = rng.betavariate(2, 5)
        attrs.add(key="http.request.method").value.string_value = "POST"
        attrs.add(key="http.response.status_code").value.int_value = 200
    return req.SerializeToString()


@dataclass
class WorkerResult:
    acked: int = 0
    rpcs: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)


async def _run_worker(cfg: dict[str, Any], pool: list[bytes]) -> WorkerResult:
    import grpc

    result = WorkerResult()
    metadata = tuple(cfg.get("metadata", ()))
    channel = grpc.aio.insecure_channel(
        cfg["target"], options=[("grpc.max_send_message_length", 256 << 20)]
    )
    export = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
    start = cfg["start_at"]
    measure_from = start + cfg["warmup_s"]
    stop_at = measure_from + cfg["duration_s"]
    interval = cfg.get("interval_s") or 0.0  # per lane, when paced
    while time.time() < start:
        await asyncio.sleep(0.005)

    async def lane(index: int) -> None:
        next_send = time.time() + (interval * index / max(cfg["concurrency"], 1))
        i = index
        while True:
            now = time.time()
            if now >= stop_at:
                return
            if interval:
                if now < next_send:
                    await asyncio.sleep(next_send - now)
                next_send += interval
            payload = pool[i % len(pool)]
            i += cfg["concurrency"]
            sent = time.time()
            try:
                await export(payload, timeout=30, metadata=metadata or None)
                code = "OK"
            except grpc.aio.AioRpcError as e:
                code = e.code().name
            done = time.time()
            if sent >= measure_from:
                result.rpcs += 1
                result.latencies_ms.append((done - sent) * 1000)
                if code == "OK":
                    result.acked += cfg["spans"]
                else:
                    result.errors[code] = result.errors.get(code, 0) + 1

    await asyncio.gather(*(lane(i) for i in range(cfg["concurrency"])))
    await channel.close()
    result.window = (measure_from, time.time())
    return result


def _worker(cfg: dict[str, Any], out: Any) -> None:
    rng = random.Random(cfg["seed"])
    pool = [build_request(cfg["spans"], rng) for _ in range(cfg["pool"])]
    out.put(asyncio.run(_run_worker(cfg, pool)))


def run_load(
    target: str,
    *,
    processes: int,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    spans: int = 1000,
    rate_spans_s: float | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    pool: int = 16,
) -> dict[str, Any]:
    """Run the load and return acked spans/s, RPC latency percentiles and errors."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    interval = None
    if rate_spans_s:
        rpcs_per_lane_s = rate_spans_s / spans / (processes * concurrency)
        interval = 1.0 / rpcs_per_lane_s
    start_at = time.time() + 3.0 + pool * spans / 20_000  # time to build the pools
    workers = [
        ctx.Process(
            target=_worker,
            args=(
                {
                    "target": target, "concurrency": concurrency, "duration_s": duration_s,
                    "warmup_s": warmup_s, "spans": spans, "interval_s": interval,
                    "metadata": metadata, "pool": pool, "seed": 7 + p, "start_at": start_at,
                },
                out,
            ),
        )
        for p in range(processes)
    ]  # fmt: skip
    for w in workers:
        w.start()
    results: list[WorkerResult] = [out.get() for _ in workers]
    for w in workers:
        w.join()
    acked = sum(r.acked for r in results)
    window = max(r.window[1] for r in results) - min(r.window[0] for r in results)
    latencies = sorted(x for r in results for x in r.latencies_ms)
    errors: dict[str, int] = {}
    for r in results:
        for code, n in r.errors.items():
            errors[code] = errors.get(code, 0) + n

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {
        "acked_spans": acked,
        "window_s": round(window, 3),
        "acked_spans_per_s": round(acked / window) if window else 0,
        "rpcs": sum(r.rpcs for r in results),
        "errors": errors,
        "rpc_latency_ms": {
            "p50": round(pct(0.5), 2),
            "p99": round(pct(0.99), 2),
            "max": round(pct(1.0), 2),
        },
    }  # fmt: skip


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="send inference-shaped spans to a driftline")
    parser.add_argument("--target", default="127.0.0.1:4317", help="OTLP gRPC host:port")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="spans/s; 0 = as fast as acked")
    parser.add_argument("--spans", type=int, default=1000, help="spans per request")
    args = parser.parse_args()
    result = run_load(
        args.target, processes=1, concurrency=4, duration_s=args.duration, warmup_s=0.0,
        spans=args.spans, rate_spans_s=args.rate or None,
    )  # fmt: skip
    print(json.dumps(result, indent=2))
