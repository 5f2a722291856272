"""Processors: pure functions that change decoded OTLP export requests in place.

Kept apart from transport: they see an Export*ServiceRequest message and a Signal, never a
socket, a WAL or a table. `pipeline.py` composes them into the two entry points, one the
receivers call before the WAL (redaction; enrichment with `apply_to: both`) and one the
forwarders call before sending (enrichment with `apply_to: forward`).

    redaction.py     drop / hash keys, mask / hash value patterns (patterns.py: the patterns)
    enrichment.py    ml.model.* normalised, driftline.slo.breached, drift verdict, static
    identity.py      a span's model identity, by semconv's fallbacks
    drift_cache.py   latest drift verdict per model, updated by the drift computation
    walk.py          where attributes live in each signal's request
"""

from driftline.processors.drift_cache import DriftVerdict, DriftVerdictCache
from driftline.processors.pipeline import (
    ForwardTransform,
    IngestTransform,
    build_forward_transform,
    build_ingest_transform,
)

__all__ = [
    "DriftVerdict",
    "DriftVerdictCache",
    "ForwardTransform",
    "IngestTransform",
    "build_forward_transform",
    "build_ingest_transform",
]
