"""Value patterns for redaction: the built-ins and the user's regexes, compiled into one scanner.

All patterns are joined into a single alternation of named groups, so a string is scanned once
whatever the number of patterns; the group that matched names the rule. A rule may also carry a
`check` that vetoes a match (the credit-card pattern accepts only Luhn-valid digit runs, so
order numbers and timestamps survive).

The built-ins use ASCII character classes on purpose: their byte-level twins (`prefilter`) then
match a superset of what they match inside any string field of the serialized request, which
lets redaction skip decoding work on requests that cannot contain a match (see redaction.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from driftline.config.processors import BUILTIN_PATTERNS, PatternAction, PatternConfig

# Local part and domain as in RFC 5322's dot-atom, simplified; the TLD is letters only.
_EMAIL: Final = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# 13 to 19 digits (ISO/IEC 7812 card numbers), optionally grouped by single spaces or dashes,
# not part of a longer digit run.
_CARD: Final = r"(?<![0-9])[0-9](?:[ \-]?[0-9]){12,18}(?![0-9])"
_CARD_PREFILTER: Final = rb"[0-9](?:[ \-]?[0-9]){12}"


def luhn_valid(text: str) -> bool:
    """The Luhn (mod 10) check over the digits of `text`."""
    digits = [ord(c) - 48 for c in text if "0" <= c <= "9"]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Builtin:
    regex: str
    prefilter: bytes  # a bytes regex matching wherever `regex` matches inside a string field
    check: Callable[[str], bool] | None = None


BUILTINS: Final[dict[str, Builtin]] = {
    "email": Builtin(_EMAIL, _EMAIL.encode()),
    "credit_card": Builtin(_CARD, _CARD_PREFILTER, luhn_valid),
}
assert tuple(BUILTINS) == BUILTIN_PATTERNS, "config.processors.BUILTIN_PATTERNS is out of date"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: PatternAction
    check: Callable[[str], bool] | None


class _Pass:
    """One compiled regex and the rules its named groups stand for."""

    __slots__ = ("pattern", "rules")

    def __init__(self, pattern: re.Pattern[str], rules: dict[str, Rule]) -> None:
        self.pattern = pattern
        self.rules = rules


class Scanner:
    """Finds every pattern's matches in a string and rewrites them via a callback.

    The built-ins share one pass (an alternation of named groups: one scan of the string for
    all of them). Each user regex is its own pass, compiled exactly as written, so its group
    numbers, backreferences and inline flags such as `(?i)` keep their meaning.
    """

    __slots__ = ("_passes", "prefilter")

    def __init__(self, patterns: tuple[PatternConfig, ...]) -> None:
        alternatives = []
        builtin_rules: dict[str, Rule] = {}
        prefilters: list[bytes] = []
        self._passes: list[_Pass] = []
        for i, config in enumerate(patterns):
            if config.regex:
                rule = Rule(config.name, config.action, None)
                self._passes.append(_Pass(re.compile(config.regex), {"": rule}))
                continue
            builtin = BUILTINS[config.name]
            group = f"builtin{i}"
            alternatives.append(f"(?P<{group}>{builtin.regex})")
            builtin_rules[group] = Rule(config.name, config.action, builtin.check)
            prefilters.append(builtin.prefilter)
        if alternatives:
            self._passes.insert(0, _Pass(re.compile("|".join(alternatives)), builtin_rules))
        # A user regex has no byte-level twin that is guaranteed to match a superset (anchors,
        # lookarounds, Unicode classes), so with one the prefilter is off: always scan.
        user_regex = len(self._passes) > bool(alternatives)
        self.prefilter: re.Pattern[bytes] | None = (
            None if user_regex or not prefilters else re.compile(b"|".join(prefilters))
        )

    def rewrite(self, text: str, replace: Callable[[Rule, str], str]) -> str | None:
        """`text` with each accepted match replaced by `replace(rule, match)`; None when no
        match was accepted (the common case costs one failed search per pass)."""
        result: str | None = None
        for scan in self._passes:
            rewritten = _rewrite(scan, text if result is None else result, replace)
            if rewritten is not None:
                result = rewritten
        return result


def _rewrite(scan: _Pass, text: str, replace: Callable[[Rule, str], str]) -> str | None:
    if scan.pattern.search(text) is None:
        return None
    changed = False
    rules = scan.rules
    only = next(iter(rules.values())) if len(rules) == 1 else None

    def substitute(match: re.Match[str]) -> str:
        nonlocal changed
        rule = only or rules[match.lastgroup or ""]
        found = match.group()
        if rule.check is not None and not rule.check(found):
            return found
        changed = True
        return replace(rule, found)

    rewritten = scan.pattern.sub(substitute, text)
    return rewritten if changed else None
