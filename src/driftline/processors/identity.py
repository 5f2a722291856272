"""A span's model identity, read with the fallbacks of docs/conventions.md (pure).

The key order is not repeated here: it is `semconv.MODEL_NAME_SPAN_KEYS` and friends, the same
tuples the ML tables' SQL is built from (storage/ingest_ml_sql.py), so an enriched span names
exactly the model its stored inference row does. As there, only non-empty string values count,
and of a key sent twice, the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from driftline import semconv

SPAN_KEYS: Final = frozenset(semconv.MODEL_NAME_SPAN_KEYS + semconv.MODEL_VERSION_SPAN_KEYS)
_RESOURCE_KEYS: Final = frozenset(
    semconv.MODEL_NAME_RESOURCE_KEYS + semconv.MODEL_VERSION_RESOURCE_KEYS
)


def first_string(found: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """The first non-empty string value among `keys` of `found` (key → KeyValue), or ""."""
    for key in keys:
        kv = found.get(key)
        if kv is not None:
            text = kv.value.string_value  # "" for any other value type
            if text:
                return str(text)
    return ""


def collect(attributes: Any, keys: frozenset[str]) -> dict[str, Any]:
    """key → the first KeyValue with that key, for the `keys` present in `attributes`."""
    found: dict[str, Any] = {}
    for kv in attributes:
        key = kv.key
        if key in keys and key not in found:
            found[key] = kv
    return found


def resource_identity(resource_attributes: Any) -> tuple[str, str]:
    """(name, version) a resource gives its spans when they name none themselves."""
    found = collect(resource_attributes, _RESOURCE_KEYS)
    return (
        first_string(found, semconv.MODEL_NAME_RESOURCE_KEYS),
        first_string(found, semconv.MODEL_VERSION_RESOURCE_KEYS),
    )


def span_identity(found: Mapping[str, Any], resource: tuple[str, str]) -> tuple[str, str]:
    """(name, version) of a span, from its collected keys (see `collect`, with at least
    `SPAN_KEYS`) and its resource's identity; name "" means the span is no inference."""
    name = first_string(found, semconv.MODEL_NAME_SPAN_KEYS) or resource[0]
    version = first_string(found, semconv.MODEL_VERSION_SPAN_KEYS) or resource[1]
    return name, version
