"""`processors`: redaction and enrichment of what driftline receives (see driftline.processors).

Nothing configured changes nothing: every list is empty and every switch off by default, so the
ingest hot path stores the received bytes as they are.

    processors:
      redaction:                         # always applied at ingest, before the WAL
        drop_keys: [user.password]       # attribute keys removed (at any depth)
        hash_keys: [user.id]             # values replaced by "sha256:<hex of salt+value>"
        salt: ${env:DRIFTLINE_REDACTION_SALT}
        patterns:                        # string values: matches masked or hashed
          - {name: email}                # a built-in: email, credit_card (Luhn-checked)
          - {name: ticket, regex: 'TCK-[0-9]{6}', action: hash}
      enrichment:
        normalize_model: true            # ml.model.name / ml.model.version from the fallbacks
        slo: true                        # driftline.slo.breached from analysis.slos
        drift: true                      # driftline.drift.detected / .share, latest verdict
        static_attributes: {resource: {deployment.environment: prod}, span: {}}
        apply_to: forward                # forward (default) or both (also what is stored)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

BUILTIN_PATTERNS: Final = ("email", "credit_card")

PatternAction = Literal["mask", "hash"]
ApplyTo = Literal["forward", "both"]
AttributeValue = str | bool | int | float


@dataclass(frozen=True, slots=True, kw_only=True)
class PatternConfig:
    """One value pattern. Without `regex`, `name` picks a built-in; with it, `name` labels the
    user's regex (it appears in the mask, `[redacted:<name>]`)."""

    name: str = ""
    regex: str = ""
    action: PatternAction = "mask"  # mask: "[redacted:<name>]"; hash: "sha256:<hex>"

    def validate(self, path: str) -> list[str]:
        problems = []
        if not self.name:
            problems.append(f"{path}.name: required (a built-in such as email, or a label)")
        elif not self.regex and self.name not in BUILTIN_PATTERNS:
            builtins = ", ".join(BUILTIN_PATTERNS)
            problems.append(
                f"{path}.name: {self.name!r} is not a built-in pattern ({builtins}); "
                "give a regex to define it"
            )
        if self.action not in ("mask", "hash"):
            problems.append(f"{path}.action: must be mask or hash, got {self.action!r}")
        if self.regex:
            try:
                compiled = re.compile(self.regex)
            except re.error as exc:
                problems.append(f"{path}.regex: not a valid regular expression: {exc}")
            else:
                if compiled.fullmatch(""):
                    problems.append(f"{path}.regex: must not match the empty string")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class RedactionConfig:
    """`processors.redaction`: keys are exact attribute keys, matched at every nesting level
    (inside key-value lists too); patterns apply to every string value and log body."""

    drop_keys: tuple[str, ...] = ()
    hash_keys: tuple[str, ...] = ()
    patterns: tuple[PatternConfig, ...] = ()
    salt: str = ""  # prepended to every hashed value; empty: plain sha256

    @property
    def enabled(self) -> bool:
        return bool(self.drop_keys or self.hash_keys or self.patterns)

    def validate(self, path: str) -> list[str]:
        problems = []
        for name in ("drop_keys", "hash_keys"):
            if any(not key for key in getattr(self, name)):
                problems.append(f"{path}.{name}: keys must not be empty")
        both = sorted(set(self.drop_keys) & set(self.hash_keys))
        if both:
            problems.append(f"{path}: {', '.join(both)} both in drop_keys and hash_keys")
        for i, pattern in enumerate(self.patterns):
            problems += pattern.validate(f"{path}.patterns[{i}]")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticAttributesConfig:
    """Attributes set (overwriting any value sent) on every resource of every signal, and on
    every span."""

    resource: dict[str, AttributeValue] = field(default_factory=dict)
    span: dict[str, AttributeValue] = field(default_factory=dict)

    def validate(self, path: str) -> list[str]:
        problems = []
        for name in ("resource", "span"):
            attributes = getattr(self, name)
            if not isinstance(attributes, dict):
                problems.append(f"{path}.{name}: expected a mapping of key: value")
                continue
            for key, value in attributes.items():
                if not isinstance(key, str) or not key:
                    problems.append(f"{path}.{name}: keys must be non-empty strings, got {key!r}")
                elif not isinstance(value, str | bool | int | float):
                    problems.append(
                        f"{path}.{name}.{key}: expected a string, number or boolean, "
                        f"got {type(value).__name__}"
                    )
        return problems

    @property
    def enabled(self) -> bool:
        return bool(self.resource or self.span)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrichmentConfig:
    """`processors.enrichment`. apply_to `forward` enriches only what is forwarded; `both`
    enriches at ingest (before the WAL), so stored rows carry the attributes too."""

    normalize_model: bool = False
    slo: bool = False
    drift: bool = False
    static_attributes: StaticAttributesConfig = field(default_factory=StaticAttributesConfig)
    apply_to: ApplyTo = "forward"

    @property
    def enabled(self) -> bool:
        return self.normalize_model or self.slo or self.drift or self.static_attributes.enabled

    def validate(self, path: str) -> list[str]:
        problems = self.static_attributes.validate(f"{path}.static_attributes")
        if self.apply_to not in ("forward", "both"):
            problems.append(f"{path}.apply_to: must be forward or both, got {self.apply_to!r}")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessorsConfig:
    redaction: RedactionConfig = field(default_factory=RedactionConfig)
    enrichment: EnrichmentConfig = field(default_factory=EnrichmentConfig)

    def validate(self, path: str) -> list[str]:
        return self.redaction.validate(f"{path}.redaction") + self.enrichment.validate(
            f"{path}.enrichment"
        )
