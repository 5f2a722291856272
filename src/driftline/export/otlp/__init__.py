"""Durable OTLP forwarding: each `exporters.otlp` destination reads its own WAL cursor.

    WAL ──cursor "forward:<name>"──▶ OtlpForwarder ──▶ Transport (gRPC | HTTP protobuf) ──▶ backend
                                      │ decode, transform hook, count, re-pack
                                      └ retry (OTLP rules), ack after acceptance

- forwarder.py   the loop: batches of WAL ids, consumers, acknowledgement, lag shedding
- encode/        per-signal shapes (shapes.py) and combining/splitting requests (repack.py)
- transport*.py  sending one request body and classifying the answer (OTLP §7 rules)
- retry.py       the Collector's jittered exponential backoff, server delays honoured
- state.py       the "sent through" mark that lets resends after a restart be counted
- metrics.py     driftline_exporter_* counters on /metrics
- build.py       config → cursors and forwarders (what service.py starts)

Guarantees: at-least-once per destination across crashes (a batch is acknowledged only once
the destination accepted it, refused it permanently, or it was given up on and counted);
duplicates arise only from a request that was sent again — after a failed attempt (counted as
resent, reason "retry") or after a restart (reason "restart"). A slow or dead destination never
slows ingest or the ClickHouse sink: it only holds WAL segments, and beyond `max_lag_mib` it
drops its own oldest records (counted, reason "lag") rather than letting the WAL fill up.
"""

from driftline.export.otlp.build import build_forwarders, forward_cursors, start_forwarders
from driftline.export.otlp.forwarder import OtlpForwarder, Transform

__all__ = [
    "OtlpForwarder",
    "Transform",
    "build_forwarders",
    "forward_cursors",
    "start_forwarders",
]
