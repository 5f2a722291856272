"""Redaction: drop or hash configured attribute keys, mask or hash pattern matches (pure).

Applies to every attribute list of a request (resource, scope, span, span event and link, log
record, metric data point and exemplar, metric metadata), at every depth (inside arrays and
key-value lists), and to log record bodies. It runs at ingest, after validation and before the
WAL, so neither the stored rows nor anything forwarded ever holds the original values.

Outputs name what happened to the value:
- a hashed key's value becomes `sha256:<hex>`, the hex digest of `salt + value` (UTF-8; a bytes
  value is hashed as its bytes; int, double and bool as their text `42`, `0.5`, `true`); arrays
  and key-value lists are hashed element by element, so their shape survives;
- a pattern match becomes `[redacted:<rule name>]` (mask) or `sha256:<hex>` of the match (hash).
Hashing is deterministic, so equal inputs stay equal: a hashed categorical feature still drifts
or joins like the original.

Speed: when the rules allow it (no user regex), the serialized request is searched first — for
the configured key names and the built-in patterns' byte-level twins — and a request that
cannot contain a match is left alone without walking it (the common case: no personal data).
When it may, the same test runs on each span, log record or metric's own bytes, and only the
items that may match are walked (until most items turn out to match: then all are walked).
Strings inside a protobuf are stored as contiguous UTF-8, so such a search misses nothing (see
patterns.py).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from driftline.config.processors import RedactionConfig
from driftline.processors import walk
from driftline.processors.patterns import HASH_MARK, HASHED, Rule, Scanner
from driftline.signals import Signal

HASH_PREFIX: Final = HASH_MARK
_ADAPT_AFTER: Final = 32  # items tested before deciding whether the per-item test pays


class Hasher:
    """sha256 of `salt + value`, rendered `sha256:<hex>`."""

    __slots__ = ("_base",)

    def __init__(self, salt: str) -> None:
        self._base = hashlib.sha256(salt.encode())

    def __call__(self, data: bytes) -> str:
        digest = self._base.copy()
        digest.update(data)
        return HASH_PREFIX + digest.hexdigest()


class Redactor:
    """Callable on a decoded request: `redactor(signal, request, payload) -> changed`."""

    __slots__ = ("_drop", "_hash", "_hasher", "_keyed", "_needles", "_scanner")

    def __init__(self, config: RedactionConfig) -> None:
        self._drop = frozenset(config.drop_keys)
        self._hash = frozenset(config.hash_keys)
        self._keyed = self._drop | self._hash
        self._needles = tuple(sorted(key.encode() for key in self._keyed))
        self._hasher = Hasher(config.salt)
        self._scanner = Scanner(config.patterns) if config.patterns else None

    def __call__(self, signal: Signal, request: Any, payload: bytes | None = None) -> bool:
        """Redact `request` in place; True when anything changed. `payload`, the request's
        serialization if the caller has it, lets a request with nothing to redact skip the walk,
        and then each span, log record or metric whose own bytes hold nothing to redact."""
        filtered = payload is not None and self.filters_bytes
        if payload is not None and filtered and not self.may_match(payload):
            return False
        changed = False
        scan_bodies = signal is Signal.LOGS and self._scanner is not None
        checked = hits = 0
        for item, lists in walk.items(signal, request):
            if item is not None and filtered:
                checked += 1
                if not self.may_match(item.SerializeToString()):
                    continue
                hits += 1
                # Most items may match: the test costs more than it saves, walk them all.
                if checked >= _ADAPT_AFTER and 2 * hits > checked:
                    filtered = False
            for attributes in lists:
                if attributes and self._attributes(attributes):
                    changed = True
            has_body = scan_bodies and item is not None and item.HasField("body")
            if has_body and self._scan(item.body):
                changed = True
        return changed

    @property
    def filters_bytes(self) -> bool:
        """Whether `may_match` can ever say no (not with a user regex among the patterns)."""
        return self._scanner is None or self._scanner.prefilter is not None

    def may_match(self, payload: bytes) -> bool:
        """False only when no rule can match anywhere in this serialized request."""
        scanner = self._scanner
        if scanner is not None and scanner.prefilter is None:
            return True  # a user regex: no safe byte-level shortcut
        if any(needle in payload for needle in self._needles):
            return True
        return scanner is not None and scanner.prefilter is not None and scanner.prefilter(payload)

    # --- the walk -----------------------------------------------------------------------------

    def _attributes(self, attributes: Any) -> bool:
        """Apply key rules and patterns to one repeated KeyValue field."""
        # The hot loop of a walk: the string case is inlined, numbers cost one WhichOneof.
        keyed = self._keyed
        scanner = self._scanner
        dropped: list[int] = []
        changed = False
        for index, kv in enumerate(attributes):
            key = kv.key
            if key in keyed:
                if key in self._drop:
                    dropped.append(index)
                elif self._hash_value(kv.value):
                    changed = True
                continue
            value = kv.value
            kind = value.WhichOneof("value")
            if kind == "string_value":
                if scanner is not None:
                    rewritten = scanner.rewrite(value.string_value, self._replace)
                    if rewritten is not None:
                        value.string_value = rewritten
                        changed = True
            # Keys nested in key-value lists are matched too, hence the recursion even
            # without patterns.
            elif (kind == "array_value" or kind == "kvlist_value") and self._scan(value):
                changed = True
        for index in reversed(dropped):
            del attributes[index]
        return changed or bool(dropped)

    def _scan(self, value: Any) -> bool:
        """Patterns on a string, recursion into arrays and key-value lists."""
        kind = value.WhichOneof("value")
        if kind == "string_value":
            if self._scanner is None:
                return False
            rewritten = self._scanner.rewrite(value.string_value, self._replace)
            if rewritten is None:
                return False
            value.string_value = rewritten
            return True
        if kind == "array_value":
            changed = False
            for item in value.array_value.values:
                if self._scan(item):
                    changed = True
            return changed
        if kind == "kvlist_value":
            return self._attributes(value.kvlist_value.values)
        return False

    def _replace(self, rule: Rule, found: str) -> str:
        if rule.action == "hash":
            return self._hasher(found.encode())
        return f"[redacted:{rule.name}]"

    def _hash_value(self, value: Any) -> bool:
        """Replace a value by its hash; arrays and key-value lists element by element."""
        kind = value.WhichOneof("value")
        if kind is None:
            return False
        if kind == "array_value":
            changed = False
            for item in value.array_value.values:
                if self._hash_value(item):
                    changed = True
            return changed
        if kind == "kvlist_value":
            changed = False
            for kv in value.kvlist_value.values:
                if self._hash_value(kv.value):
                    changed = True
            return changed
        if kind == "string_value" and HASHED.fullmatch(value.string_value):
            return False  # hashed already (by an upstream driftline, or sent that way)
        value.string_value = self._hasher(_canonical_bytes(value, kind))
        return True


def _canonical_bytes(value: Any, kind: str) -> bytes:
    """The bytes a scalar AnyValue is hashed as."""
    if kind == "string_value":
        return str(value.string_value).encode()
    if kind == "bytes_value":
        return bytes(value.bytes_value)
    if kind == "bool_value":
        return b"true" if value.bool_value else b"false"
    if kind == "int_value":
        return str(value.int_value).encode()
    return repr(float(value.double_value)).encode()
