"""The entry points and the ingest hook: what runs where for each configuration, the ingest path
byte-for-byte unchanged without processors (and when nothing matched), re-serialized when a
rule changed something; config errors named by their key path."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from pathlib import Path

import pytest
from processors_requests import logs, span_attrs, traces

from driftline import semconv
from driftline.config.load import load_config
from driftline.config.model import AnalysisConfig, DriftlineConfig, SloConfig
from driftline.config.processors import (
    EnrichmentConfig,
    PatternConfig,
    ProcessorsConfig,
    RedactionConfig,
)
from driftline.errors import ConfigError
from driftline.processors import DriftVerdictCache, build_forward_transform, build_ingest_transform
from driftline.receiver._otlp import OTLP_SIGNALS
from driftline.receiver.ingest import Ingester, TransformingLog
from driftline.receiver.validate import inspect, parse_request
from driftline.signals import Signal


def config(
    redaction: RedactionConfig | None = None, enrichment: EnrichmentConfig | None = None
) -> DriftlineConfig:
    return DriftlineConfig(
        processors=ProcessorsConfig(
            redaction=redaction or RedactionConfig(), enrichment=enrichment or EnrichmentConfig()
        ),
        analysis=AnalysisConfig(slos=(SloConfig(model="m", latency_s=0.0005),)),
    )


REDACT = RedactionConfig(patterns=(PatternConfig(name="email"),))
ENRICH = EnrichmentConfig(normalize_model=True, slo=True)


def test_nothing_configured_builds_nothing() -> None:
    cache = DriftVerdictCache()
    assert build_ingest_transform(DriftlineConfig(), cache) is None
    assert build_forward_transform(DriftlineConfig(), cache) is None


def test_redaction_runs_at_ingest_and_enrichment_where_apply_to_says() -> None:
    cache = DriftVerdictCache()
    forward_only = config(REDACT, ENRICH)
    both = config(REDACT, dataclasses.replace(ENRICH, apply_to="both"))
    ingest, forward = (
        build_ingest_transform(forward_only, cache),
        build_forward_transform(forward_only, cache),
    )
    assert ingest is not None and forward is not None
    request = traces({"gen_ai.request.model": "m", "who": "a@b.io"})
    assert ingest(Signal.TRACES, request, request.SerializeToString())
    assert span_attrs(request) == {"gen_ai.request.model": "m", "who": "[redacted:email]"}
    forward(Signal.TRACES, request)
    assert span_attrs(request)[semconv.ML_MODEL_NAME] == "m"
    assert span_attrs(request)[semconv.DRIFTLINE_SLO_BREACHED] is True

    assert build_forward_transform(both, cache) is None  # done at ingest already
    ingest_both = build_ingest_transform(both, cache)
    assert ingest_both is not None
    request = traces({"gen_ai.request.model": "m", "who": "a@b.io"})
    assert ingest_both(Signal.TRACES, request, request.SerializeToString())
    assert span_attrs(request)[semconv.ML_MODEL_NAME] == "m"
    assert span_attrs(request)["who"] == "[redacted:email]"

    enrich_only = build_ingest_transform(config(enrichment=ENRICH), cache)
    assert enrich_only is None  # apply_to forward, no redaction: the ingest path is untouched


class ListLog:
    """A DurableLog keeping payloads in memory, durable at once."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def submit(self, kind: int, payload: bytes) -> concurrent.futures.Future[int]:
        self.payloads.append(payload)
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        future.set_result(len(self.payloads))
        return future


def ingest(cfg: DriftlineConfig, data: bytes) -> bytes:
    log = ListLog()
    transform = build_ingest_transform(cfg, DriftVerdictCache())
    ingester = Ingester(log, max_attributes=128, transform=transform)
    otlp = OTLP_SIGNALS[Signal.TRACES]
    outcome = asyncio.run(
        ingester.export(otlp, "grpc", lambda: inspect(Signal.TRACES, data, 128), size=len(data))
    )
    assert outcome.failure is None
    [payload] = log.payloads
    return payload


def test_the_ingest_path_stores_the_received_bytes_unless_a_rule_changed_something() -> None:
    clean = traces({"msg": "fine"}).SerializeToString()
    dirty = traces({"msg": "to a@b.io"}).SerializeToString()
    assert ingest(DriftlineConfig(), clean) is clean  # no processors: the very bytes received
    assert ingest(DriftlineConfig(), dirty) is dirty
    assert ingest(config(REDACT), clean) is clean  # nothing matched: still untouched
    stored = ingest(config(REDACT), dirty)
    assert stored != dirty
    assert span_attrs(parse_request(Signal.TRACES, stored))["msg"] == "to [redacted:email]"


def test_a_large_request_is_redacted_too_off_the_event_loop() -> None:
    data = traces(*({"msg": f"u{i}@example.com"} for i in range(3000))).SerializeToString()
    assert len(data) > 64 << 10
    stored = parse_request(Signal.TRACES, ingest(config(REDACT), data))
    spans = stored.resource_spans[0].scope_spans[0].spans  # type: ignore[attr-defined]
    assert len(spans) == 3000
    assert {span_attrs(stored, i)["msg"] for i in range(3000)} == {"[redacted:email]"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return path


def test_yaml_maps_onto_the_processors_config(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
processors:
  redaction:
    drop_keys: [user.password]
    hash_keys: [user.id]
    salt: ${env:SALT}
    patterns:
      - {name: email}
      - {name: ticket, regex: 'TCK-[0-9]+', action: hash}
  enrichment:
    normalize_model: true
    drift: true
    static_attributes: {resource: {deployment.environment: prod}, span: {tier: 1}}
    apply_to: both
""",
        ),
        environ={"SALT": "pepper"},
    )
    redaction, enrichment = cfg.processors.redaction, cfg.processors.enrichment
    assert redaction.drop_keys == ("user.password",) and redaction.hash_keys == ("user.id",)
    assert redaction.salt == "pepper"
    assert redaction.patterns == (
        PatternConfig(name="email"),
        PatternConfig(name="ticket", regex="TCK-[0-9]+", action="hash"),
    )
    assert enrichment.normalize_model and enrichment.drift and not enrichment.slo
    assert enrichment.apply_to == "both"
    assert enrichment.static_attributes.resource == {"deployment.environment": "prod"}
    assert enrichment.static_attributes.span == {"tier": 1}


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        (
            "redaction: {patterns: [{name: bad, regex: 'a(b'}]}",
            "processors.redaction.patterns[0].regex: not a valid regular expression: "
            "missing ), unterminated subpattern",
        ),
        (
            "redaction: {patterns: [{name: ssn}]}",
            "processors.redaction.patterns[0].name: 'ssn' is not a built-in pattern",
        ),
        (
            "redaction: {patterns: [{name: x, regex: 'a*'}]}",
            "processors.redaction.patterns[0].regex: must not match the empty string",
        ),
        (
            "redaction: {patterns: [{regex: 'abc'}]}",
            "processors.redaction.patterns[0].name: required",
        ),
        (
            "redaction: {patterns: [{name: email, action: scramble}]}",
            "processors.redaction.patterns[0].action: must be one of mask, hash",
        ),
        (
            "redaction: {drop_keys: [a], hash_keys: [a]}",
            "processors.redaction: a both in drop_keys and hash_keys",
        ),
        (
            "enrichment: {apply_to: storage}",
            "processors.enrichment.apply_to: must be one of forward, both",
        ),
        (
            "enrichment: {static_attributes: {span: {k: [1, 2]}}}",
            "processors.enrichment.static_attributes.span.k: expected a string, number or boolean",
        ),
        (
            "enrichment: {static_attributes: {resource: [a]}}",
            "processors.enrichment.static_attributes.resource: expected a mapping",
        ),
        ("enrichment: {slos: true}", "processors.enrichment.slos: unknown key"),
    ],
)
def test_bad_processor_config_is_a_clear_error(
    tmp_path: Path, yaml_text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, f"processors:\n  {yaml_text}\n"))
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_requests_written_past_the_receivers_get_the_same_transform() -> None:
    log = ListLog()
    transform = build_ingest_transform(config(REDACT), DriftVerdictCache())
    assert transform is not None
    transforming = TransformingLog(log, transform)
    clean = logs("all good").SerializeToString()
    dirty = logs("label for a@b.io").SerializeToString()
    transforming.submit(int(Signal.LOGS), clean).result()
    transforming.submit(int(Signal.LOGS), dirty).result()
    assert log.payloads[0] is clean
    stored = parse_request(Signal.LOGS, log.payloads[1])
    body = stored.resource_logs[0].scope_logs[0].log_records[0].body  # type: ignore[attr-defined]
    assert body.string_value == "label for [redacted:email]"


def test_the_documented_examples_load(tmp_path: Path) -> None:
    """Every YAML block of docs/processors.md is a valid configuration."""
    docs = Path(__file__).parents[3] / "docs" / "processors.md"
    blocks = docs.read_text().split("```yaml\n")[1:]
    assert len(blocks) == 2
    for block in blocks:
        cfg = load_config(write(tmp_path, block.split("```")[0]), environ={})
        assert cfg.processors != ProcessorsConfig()
