"""Value patterns for redaction: the built-ins and the user's regexes, as one scanner.

Each pattern is its own compiled regex, applied in the configured order; a user's regex is
compiled exactly as written, so its groups, backreferences and inline flags such as `(?i)` keep
their meaning. (One alternation of all patterns was measured slower: an alternative that
starts with a character class is tried at every position.) A built-in may name a `needle`, a
substring every match contains ("@" for e-mails), checked before its regex runs, and a `check`
that vetoes a match (card numbers must pass Luhn, so order numbers and timestamps survive).

The built-ins use ASCII character classes on purpose: their byte-level twins (`prefilter`) are
then true for every serialized request holding a string field they match, which lets
redaction skip the walk of requests that cannot contain a match (see redaction.py).
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
# (The lookbehind follows the first digit, so the regex starts with a character class: the
# engine then skips quickly to digits instead of trying every position.)
_CARD: Final = r"[0-9](?<![0-9]{2})(?:[ \-]?[0-9]){12,18}(?![0-9])"

# Byte-level twins. E-mail: the part from "@" on (the local part only narrows the match, and a
# literal first character lets the regex engine skip ahead fast). Card: every digit mapped to
# "0", every other byte to "x", spaces and dashes deleted — deleting can only join digit runs,
# never split them — then a search for 13 zeros; two C passes, no regex over binary data.
_EMAIL_PREFILTER: Final = re.compile(rb"@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2}")
_DIGIT_TABLE: Final = bytes(48 if 48 <= b <= 57 else 120 for b in range(256))
_THIRTEEN_DIGITS: Final = b"0" * 13


def _email_may_match(payload: bytes) -> bool:
    return _EMAIL_PREFILTER.search(payload) is not None


def _card_may_match(payload: bytes) -> bool:
    return _THIRTEEN_DIGITS in payload.translate(_DIGIT_TABLE, b" -")


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


# What a hash written by redaction looks like (redaction.py renders it).
HASH_MARK: Final = "sha256:"
HASHED: Final = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Builtin:
    regex: str
    # True for every serialized request with a string field that `regex` matches
    prefilter: Callable[[bytes], bool]
    needle: str = ""  # a substring of every match ("" = none)
    min_length: int = 0  # no match is shorter
    check: Callable[[str], bool] | None = None


BUILTINS: Final[dict[str, Builtin]] = {
    "email": Builtin(_EMAIL, _email_may_match, needle="@", min_length=6),
    "credit_card": Builtin(_CARD, _card_may_match, min_length=13, check=luhn_valid),
}
assert tuple(BUILTINS) == BUILTIN_PATTERNS, "config.processors.BUILTIN_PATTERNS is out of date"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: PatternAction
    pattern: re.Pattern[str]
    needle: str = ""
    min_length: int = 0
    check: Callable[[str], bool] | None = None


def compile_rule(config: PatternConfig) -> Rule:
    if config.regex:
        return Rule(config.name, config.action, re.compile(config.regex))
    builtin = BUILTINS[config.name]
    pattern = re.compile(builtin.regex)
    return Rule(
        config.name, config.action, pattern, builtin.needle, builtin.min_length, builtin.check
    )


class Scanner:
    """Finds every pattern's matches in a string and rewrites them via a callback."""

    __slots__ = ("_rules", "prefilter")

    def __init__(self, patterns: tuple[PatternConfig, ...]) -> None:
        self._rules = tuple(compile_rule(config) for config in patterns)
        # A user regex has no byte-level twin that is sure to be true wherever it matches
        # (anchors, lookarounds, Unicode classes): with one, there is no prefilter.
        self.prefilter: Callable[[bytes], bool] | None = None
        if all(not config.regex for config in patterns):
            checks = tuple(BUILTINS[config.name].prefilter for config in patterns)
            self.prefilter = lambda payload: any(check(payload) for check in checks)

    def rewrite(self, text: str, replace: Callable[[Rule, str], str]) -> str | None:
        """`text` with each accepted match replaced by `replace(rule, match)`; None when no
        match was accepted (the common case: one substring test or failed search per rule).

        Every rule looks at the original text, never at another rule's output (a hash's hex
        digits must not be taken for a card number). Where matches overlap, the one starting
        first wins, then the rule listed first. A hash driftline wrote (`sha256:<64 hex>`) is
        left alone, so redacting twice changes nothing."""
        found: list[tuple[int, int, int, Rule | None]] = []
        if HASH_MARK in text:
            found += [(m.start(), m.end(), -1, None) for m in HASHED.finditer(text)]
        accepted = False
        for order, rule in enumerate(self._rules):
            if len(text) < rule.min_length or (rule.needle and rule.needle not in text):
                continue
            for match in rule.pattern.finditer(text):
                start, end = match.span()
                if start == end or (rule.check is not None and not rule.check(match.group())):
                    continue
                found.append((start, end, order, rule))
                accepted = True
        if not accepted:
            return None
        found.sort(key=lambda hit: (hit[0], hit[2]))
        parts: list[str] = []
        position = 0
        changed = False
        for start, end, _order, hit in found:
            if start < position:
                continue  # inside a match already taken
            parts.append(text[position:start])
            if hit is None:
                parts.append(text[start:end])
            else:
                parts.append(replace(hit, text[start:end]))
                changed = True
            position = end
        if not changed:
            return None
        parts.append(text[position:])
        return "".join(parts)
