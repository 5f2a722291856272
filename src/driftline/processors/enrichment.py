"""Enrichment: add what only driftline knows to spans (pure, apart from reading the cache).

For each span that is an inference (it has a model name, by the fallbacks of identity.py):
- `normalize_model`: `ml.model.name` / `ml.model.version` written on the span when it does not
  carry them itself (e.g. they came from `gen_ai.request.model` or the resource's
  `service.version`), so a backend sees one vocabulary;
- `slo`: `driftline.slo.breached` (bool) on the spans of a model with an objective in
  `analysis.slos` (the version's own first, else the model's): true when the span lasted longer
  than the objective's latency;
- `drift`: `driftline.drift.detected` (bool) and `driftline.drift.share` (double) from the
  model's latest verdict in the DriftVerdictCache (the version's, else the model's); nothing when
  there is none yet. One cache lookup per model and request, never a query.
And for every span or resource: `static_attributes`.

driftline's own keys and static attributes overwrite a value the client sent (they are
driftline's statements); the normalised identity never does (the client's `ml.model.*` wins).
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.proto.trace.v1 import trace_pb2

from driftline import semconv
from driftline.config.model import SloConfig
from driftline.config.processors import AttributeValue, EnrichmentConfig
from driftline.processors import identity, walk
from driftline.processors.drift_cache import DriftVerdict, DriftVerdictCache
from driftline.signals import Signal

_NS_PER_S: Final = 1_000_000_000
_IDENTITY_OUT: Final = frozenset((semconv.ML_MODEL_NAME, semconv.ML_MODEL_VERSION))


class Enricher:
    """Callable on a decoded request: `enricher(signal, request) -> changed`."""

    __slots__ = (
        "_blobs",
        "_cache",
        "_normalize",
        "_owned",
        "_per_span",
        "_resource_static",
        "_slo_ns",
        "_span_keys",
        "_span_static",
    )

    def __init__(
        self,
        config: EnrichmentConfig,
        slos: tuple[SloConfig, ...] = (),
        cache: DriftVerdictCache | None = None,
    ) -> None:
        self._normalize = config.normalize_model
        self._blobs = _SpanAttributeBlobs()
        self._cache = cache if config.drift else None
        self._slo_ns: dict[tuple[str, str], int] = {}
        if config.slo:
            for slo in slos:  # the first objective of a (model, version) wins
                self._slo_ns.setdefault((slo.model, slo.version), round(slo.latency_s * _NS_PER_S))
        self._span_static = tuple(config.static_attributes.span.items())
        self._resource_static = tuple(config.static_attributes.resource.items())
        owned = {semconv.DRIFTLINE_SLO_BREACHED, semconv.DRIFTLINE_DRIFT_DETECTED}
        owned |= {semconv.DRIFTLINE_DRIFT_SHARE, *config.static_attributes.span}
        self._owned = frozenset(owned)
        self._span_keys = identity.SPAN_KEYS | _IDENTITY_OUT | owned
        self._per_span = bool(
            self._normalize or self._slo_ns or self._cache is not None or self._span_static
        )

    def __call__(self, signal: Signal, request: Any) -> bool:
        changed = False
        if self._resource_static:
            for resource in walk.resources(signal, request):
                _upsert_all(resource.attributes, self._resource_static)
                changed = True
        if signal is Signal.TRACES and self._per_span:
            changed = self._spans(request) or changed
        return changed

    def _spans(self, request: Any) -> bool:
        changed = False
        verdicts: dict[tuple[str, str], DriftVerdict | None] = {}  # per request: one lookup
        for resource_spans in request.resource_spans:
            resource = identity.resource_identity(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    if self._span(span, resource, verdicts):
                        changed = True
        return changed

    def _span(
        self,
        span: Any,
        resource: tuple[str, str],
        verdicts: dict[tuple[str, str], DriftVerdict | None],
    ) -> bool:
        found = identity.collect(span.attributes, self._span_keys)
        values: list[tuple[str, AttributeValue]] = list(self._span_static)
        name, version = identity.span_identity(found, resource)
        if name:
            if self._normalize:
                if semconv.ML_MODEL_NAME not in found:
                    values.append((semconv.ML_MODEL_NAME, name))
                if version and semconv.ML_MODEL_VERSION not in found:
                    values.append((semconv.ML_MODEL_VERSION, version))
            if self._slo_ns:
                threshold = self._slo_ns.get((name, version))
                if threshold is None:
                    threshold = self._slo_ns.get((name, ""))
                if threshold is not None:
                    duration = span.end_time_unix_nano - span.start_time_unix_nano
                    values.append((semconv.DRIFTLINE_SLO_BREACHED, duration > threshold))
            if self._cache is not None:
                model = (name, version)
                if model in verdicts:
                    verdict = verdicts[model]
                else:
                    verdict = verdicts[model] = self._cache.get(name, version)
                if verdict is not None:
                    values.append((semconv.DRIFTLINE_DRIFT_DETECTED, verdict.detected))
                    values.append((semconv.DRIFTLINE_DRIFT_SHARE, verdict.share))
        if not values:
            return False
        if self._owned.isdisjoint(found):
            # The common case: none of these keys on the span yet. Their encoding is appended
            # in one merge (a repeated field concatenates), several times faster than building
            # the nested messages field by field.
            span.MergeFromString(self._blobs.get(tuple(values)))
        else:
            for key, value in values:
                kv = found.get(key)
                if kv is None:
                    kv = found[key] = span.attributes.add(key=key)
                _set(kv.value, value)
        return True


class _SpanAttributeBlobs:
    """Encoded `Span.attributes` entries for a sequence of (key, value), cached: names,
    versions, breach flags and verdicts repeat across spans."""

    __slots__ = ("_cache",)

    _MAX_ENTRIES: Final = 4096  # combinations are few; a bound all the same

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, AttributeValue], ...], bytes] = {}

    def get(self, values: tuple[tuple[str, AttributeValue], ...]) -> bytes:
        # True, 1 and 1.0 are equal dict keys but encode differently; here each attribute key
        # always carries one type (bool flags, a double share, string identities, static
        # values fixed by the config), so (key, value) pairs are unambiguous as they are.
        cache_key = values
        blob = self._cache.get(cache_key)
        if blob is None:
            if len(self._cache) >= self._MAX_ENTRIES:
                self._cache.clear()
            span = trace_pb2.Span()
            for key, value in values:
                _set(span.attributes.add(key=key).value, value)
            blob = self._cache[cache_key] = span.SerializeToString()
        return blob


def _slot(attributes: Any, found: dict[str, Any], key: str) -> Any:
    """The KeyValue for `key`: the existing one, else a new one appended."""
    kv = found.get(key)
    if kv is None:
        kv = found[key] = attributes.add(key=key)
    return kv


def _upsert_all(attributes: Any, values: tuple[tuple[str, AttributeValue], ...]) -> None:
    found = identity.collect(attributes, frozenset(key for key, _ in values))
    for key, value in values:
        _set(_slot(attributes, found, key).value, value)


def _set(any_value: Any, value: AttributeValue) -> None:
    """Set an AnyValue from a Python scalar (bool before int: bool is an int subclass)."""
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = str(value)
