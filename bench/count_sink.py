"""A fast OTLP/gRPC counting sink for the forwarding benchmark (a separate process).

Raw bytes in (no deserializer), one upb parse per request to count its items, an empty
(= fully accepted) response out. Every 0.25 s it writes `{"t": unix_s, "items": n,
"requests": r}` to --stats-file (atomically), so the benchmark can read delivered counts at
the edges of its measuring window without talking to this process.

    python bench/count_sink.py --listen 127.0.0.1:14317 --stats-file /tmp/sink.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def _spans(raw: bytes) -> int:
    req = ExportTraceServiceRequest.FromString(raw)
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


def _logs(raw: bytes) -> int:
    req = ExportLogsServiceRequest.FromString(raw)
    return sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)


def _points(raw: bytes) -> int:
    req = ExportMetricsServiceRequest.FromString(raw)
    return sum(
        len(getattr(m, m.WhichOneof("data")).data_points)
        for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.WhichOneof("data")
    )  # fmt: skip


COUNTERS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": _spans,
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": _logs,
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": _points,
}


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items = 0
        self.requests = 0


class Handler(grpc.GenericRpcHandler):
    def __init__(self, counts: Counts) -> None:
        self._handlers = {}
        for method, counter in COUNTERS.items():

            def handle(raw: bytes, context: Any, counter: Any = counter) -> bytes:
                n = counter(raw)
                with counts.lock:
                    counts.items += n
                    counts.requests += 1
                return b""

            self._handlers[method] = grpc.unary_unary_rpc_method_handler(
                handle, request_deserializer=None, response_serializer=None
            )

    def service(self, handler_call_details: Any) -> Any:
        return self._handlers.get(handler_call_details.method)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:14317")
    parser.add_argument("--stats-file", required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    counts = Counts()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.threads),
        options=[("grpc.max_receive_message_length", 256 << 20)],
    )
    server.add_generic_rpc_handlers((Handler(counts),))
    if not server.add_insecure_port(args.listen):
        raise SystemExit(f"cannot listen on {args.listen}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tmp = args.stats_file + ".tmp"
    while True:
        with counts.lock:
            snapshot = {"t": time.time(), "items": counts.items, "requests": counts.requests}
        with open(tmp, "w") as f:
            json.dump(snapshot, f)
        os.replace(tmp, args.stats_file)
        if stop.wait(0.25):
            break
    server.stop(1).wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
