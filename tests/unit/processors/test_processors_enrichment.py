"""Enrichment on constructed spans: model identity by the conventions' fallbacks, SLO breaches
against analysis.slos, the drift verdict from the cache (one lookup per model and request),
static attributes; and the drift cache's version fallback and ordering."""

from __future__ import annotations

import threading
from typing import Any

from processors_requests import attrs, gauge, logs, span_attrs, traces

from driftline import semconv
from driftline.config.model import SloConfig
from driftline.config.processors import EnrichmentConfig, StaticAttributesConfig
from driftline.processors.drift_cache import DriftVerdict, DriftVerdictCache
from driftline.processors.enrichment import Enricher
from driftline.signals import Signal

MS = 1_000_000


def test_model_identity_is_normalised_from_gen_ai_openinference_and_the_resource() -> None:
    request = traces(
        {"gen_ai.request.model": "gpt-x"},
        {"llm.model_name": "llama"},
        {"ml.model.name": "own", "gen_ai.request.model": "ignored"},
        {"http.route": "/health"},  # no model on the span: the resource's
        resource={"service.version": "7"},
    )
    other = traces({"http.route": "/"}, resource={"service.name": "plain"})
    enricher = Enricher(EnrichmentConfig(normalize_model=True))
    assert enricher(Signal.TRACES, request)
    assert not enricher(Signal.TRACES, other)
    got = [span_attrs(request, i) for i in range(4)]
    assert [g.get("ml.model.name") for g in got] == ["gpt-x", "llama", "own", None]
    assert [g.get("ml.model.version") for g in got[:3]] == ["7", "7", "7"]
    assert span_attrs(other) == {"http.route": "/"}


def test_the_resource_model_name_and_version_apply_and_span_keys_win() -> None:
    request = traces(
        {"x": 1},
        {"ml.model.version": "span-v"},
        resource={"ml.model.name": "res-model", "ml.model.version": "3", "service.version": "9"},
    )
    Enricher(EnrichmentConfig(normalize_model=True))(Signal.TRACES, request)
    assert span_attrs(request, 0)["ml.model.name"] == "res-model"
    assert (
        span_attrs(request, 0)["ml.model.version"] == "3"
    )  # ml.model.version before service.version
    assert span_attrs(request, 1)["ml.model.version"] == "span-v"
    assert list(span_attrs(request, 1)).count("ml.model.version") == 1


def test_a_non_string_model_key_counts_as_absent_and_is_not_duplicated() -> None:
    request = traces({"ml.model.name": 5, "gen_ai.request.model": "g"})
    Enricher(EnrichmentConfig(normalize_model=True))(Signal.TRACES, request)
    keys = [kv.key for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes]
    assert keys.count("ml.model.name") == 1 and span_attrs(request)["ml.model.name"] == 5


def slo_enricher(*slos: SloConfig) -> Enricher:
    return Enricher(EnrichmentConfig(slo=True), slos)


def test_slo_breached_when_the_span_is_slower_than_its_models_objective() -> None:
    request = traces(
        {"ml.model.name": "fraud", "_duration_ns": 300 * MS},
        {"ml.model.name": "fraud", "_duration_ns": 200 * MS},
        {"ml.model.name": "fraud", "_duration_ns": 250 * MS},  # equal: not slower
        {"ml.model.name": "other", "_duration_ns": 900 * MS},  # no objective: nothing
    )
    enricher = slo_enricher(SloConfig(model="fraud", latency_s=0.25))
    assert enricher(Signal.TRACES, request)
    got = [span_attrs(request, i).get(semconv.DRIFTLINE_SLO_BREACHED) for i in range(4)]
    assert got == [True, False, False, None]


def test_a_versions_own_objective_wins_over_the_models() -> None:
    slos = (SloConfig(model="m", latency_s=1.0), SloConfig(model="m", version="2", latency_s=0.1))
    request = traces(
        {"ml.model.name": "m", "ml.model.version": "2", "_duration_ns": 500 * MS},
        {"ml.model.name": "m", "ml.model.version": "1", "_duration_ns": 500 * MS},
    )
    slo_enricher(*slos)(Signal.TRACES, request)
    assert span_attrs(request, 0)[semconv.DRIFTLINE_SLO_BREACHED] is True
    assert span_attrs(request, 1)[semconv.DRIFTLINE_SLO_BREACHED] is False


def test_a_client_sent_driftline_key_is_overwritten_not_duplicated() -> None:
    request = traces({"ml.model.name": "m", semconv.DRIFTLINE_SLO_BREACHED: "yes"})
    slo_enricher(SloConfig(model="m", latency_s=10))(Signal.TRACES, request)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    assert [kv.key for kv in span.attributes].count(semconv.DRIFTLINE_SLO_BREACHED) == 1
    assert span_attrs(request)[semconv.DRIFTLINE_SLO_BREACHED] is False


class CountingCache(DriftVerdictCache):
    """The real cache, counting lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def get(self, model: str, version: str = "") -> DriftVerdict | None:
        self.lookups += 1
        return super().get(model, version)


def test_drift_verdict_from_the_cache_with_one_lookup_per_model_and_request() -> None:
    cache = CountingCache()
    cache.update("m", "", detected=True, share=0.5, at_unix_s=100)
    cache.update("m", "2", detected=False, share=0.1, at_unix_s=100)
    spans: list[dict[str, Any]] = [{"ml.model.name": "m", "ml.model.version": "2"}] * 50
    spans += [{"ml.model.name": "m", "ml.model.version": "1"}] * 50  # falls back to model level
    spans += [{"ml.model.name": "unknown"}] * 10  # no verdict: nothing added
    request = traces(*spans)
    assert Enricher(EnrichmentConfig(drift=True), cache=cache)(Signal.TRACES, request)
    assert cache.lookups == 3
    first, fallback, unknown = (span_attrs(request, i) for i in (0, 50, 100))
    assert (first[semconv.DRIFTLINE_DRIFT_DETECTED], first[semconv.DRIFTLINE_DRIFT_SHARE]) == (
        False,
        0.1,
    )
    assert fallback[semconv.DRIFTLINE_DRIFT_DETECTED] is True
    assert fallback[semconv.DRIFTLINE_DRIFT_SHARE] == 0.5
    assert semconv.DRIFTLINE_DRIFT_DETECTED not in unknown


def test_static_attributes_on_resources_of_every_signal_and_on_spans() -> None:
    static = StaticAttributesConfig(
        resource={"deployment.environment": "prod", "region.id": 3},
        span={"team": "ml", "sampled": True, "weight": 0.5},
    )
    enricher = Enricher(EnrichmentConfig(static_attributes=static))
    request = traces({"x": 1, "team": "old"}, resource={"deployment.environment": "dev"})
    assert enricher(Signal.TRACES, request)
    assert attrs(request.resource_spans[0].resource.attributes) == {
        "deployment.environment": "prod",
        "region.id": 3,
    }
    assert span_attrs(request) == {"x": 1, "team": "ml", "sampled": True, "weight": 0.5}
    for signal, other in ((Signal.LOGS, logs("hi")), (Signal.METRICS, gauge({}))):
        assert enricher(signal, other)
        resource = other.resource_logs[0] if signal is Signal.LOGS else other.resource_metrics[0]  # type: ignore[union-attr]
        assert attrs(resource.resource.attributes)["deployment.environment"] == "prod"


def test_spans_of_other_signals_and_disabled_switches_are_left_alone() -> None:
    request = traces({"gen_ai.request.model": "g", "_duration_ns": 10**10})
    before = request.SerializeToString()
    enricher = Enricher(EnrichmentConfig(), (SloConfig(model="g"),), DriftVerdictCache())
    assert not enricher(Signal.TRACES, request)
    assert request.SerializeToString() == before


def test_cache_version_fallback_and_out_of_order_updates() -> None:
    cache = DriftVerdictCache()
    assert cache.get("m", "1") is None
    cache.update("m", "", True, 0.4, at_unix_s=10)
    assert cache.get("m", "1") == DriftVerdict(True, 0.4, 10.0)  # model-level fallback
    cache.update("m", "1", False, 0.0, at_unix_s=20)
    assert cache.get("m", "1") == DriftVerdict(False, 0.0, 20.0)
    assert cache.get("m") == DriftVerdict(True, 0.4, 10.0)  # the version's does not leak up
    cache.update("m", "1", True, 0.9, at_unix_s=15)  # older than the stored one: ignored
    assert cache.get("m", "1") == DriftVerdict(False, 0.0, 20.0)
    cache.remove("m", "1")
    assert cache.get("m", "1") == DriftVerdict(True, 0.4, 10.0)
    assert cache.get("other", "") is None and len(cache) == 1


def test_cache_readers_never_see_a_torn_state_under_concurrent_updates() -> None:
    cache = DriftVerdictCache()
    stop = threading.Event()
    errors: list[str] = []

    def write(model: str) -> None:
        t = 0
        while not stop.is_set():
            t += 1
            cache.update(model, "", t % 2 == 0, (t % 2) / 2, at_unix_s=t)

    def read() -> None:
        for _ in range(20_000):
            for model in ("a", "b"):
                verdict = cache.get(model, "v")
                # each verdict was written whole: detected and share agree
                if verdict is not None and verdict.detected != (verdict.share == 0.0):
                    errors.append(repr(verdict))

    writers = [threading.Thread(target=write, args=(m,)) for m in ("a", "b")]
    for w in writers:
        w.start()
    read()
    stop.set()
    for w in writers:
        w.join()
    assert not errors
    assert {cache.get("a") is not None, cache.get("b") is not None} == {True}
