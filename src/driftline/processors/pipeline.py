"""The two entry points: what runs at ingest (before the WAL) and what runs before forwarding.

- Ingest: redaction whenever it is configured (so neither storage nor any forwarder sees the
  original values), then enrichment if `apply_to: both`. The receivers call it after decoding
  and validation and re-serialize only when it reports a change.
- Forward: enrichment if `apply_to: forward` (the default). With `both`, what the forwarder
  reads from the WAL is enriched already, so there is nothing left to do.
Either is None when it has nothing to do, and then its caller's path is exactly as without
processors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from driftline.config.model import DriftlineConfig
from driftline.processors.drift_cache import DriftVerdictCache
from driftline.processors.enrichment import Enricher
from driftline.processors.redaction import Redactor
from driftline.signals import Signal

IngestTransform = Callable[[Signal, Message, bytes], bool]
"""(signal, decoded Export*ServiceRequest, its current serialization) → changed. Modifies the
request in place; the bytes let redaction skip requests that hold nothing to redact. When it
returns True the caller must re-serialize the request."""

ForwardTransform = Callable[[Signal, Message], None]
"""(signal, decoded Export*ServiceRequest) → None; modifies the request in place."""


def build_ingest_transform(
    cfg: DriftlineConfig, cache: DriftVerdictCache
) -> IngestTransform | None:
    processors = cfg.processors
    redactor = Redactor(processors.redaction) if processors.redaction.enabled else None
    enrichment = processors.enrichment
    enricher = (
        Enricher(enrichment, cfg.analysis.slos, cache)
        if enrichment.enabled and enrichment.apply_to == "both"
        else None
    )
    if redactor is None and enricher is None:
        return None

    def transform(signal: Signal, request: Any, payload: bytes) -> bool:
        changed = redactor is not None and redactor(signal, request, payload)
        if enricher is not None and enricher(signal, request):
            changed = True
        return changed

    return transform


def build_forward_transform(
    cfg: DriftlineConfig, cache: DriftVerdictCache
) -> ForwardTransform | None:
    enrichment = cfg.processors.enrichment
    if not enrichment.enabled or enrichment.apply_to != "forward":
        return None
    enricher = Enricher(enrichment, cfg.analysis.slos, cache)

    def transform(signal: Signal, request: Any) -> None:
        enricher(signal, request)

    return transform
