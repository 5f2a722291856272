"""Which SQL text the query API accepts: one statement, of a kind that only reads.

A lexer that follows ClickHouse's own (quotes with backslash escapes and doubled quotes, nested
`/* */` comments, `--`, `# ` and `#!` line comments, `$tag$` heredocs, numbers whose exponent
swallows its sign) splits the text into tokens, so that a `;` or a keyword inside a string or a
comment counts for nothing. `check_statement` then requires:

- one statement: a `;` may only end it (the text after the last token is dropped, so nothing can
  follow the SETTINGS clause that clickhouse-connect appends);
- a reading kind: SELECT, WITH, SHOW, DESCRIBE/DESC, EXPLAIN, EXISTS, or `(` (a bracketed
  SELECT). Everything else is refused here, before the engine sees it;
- none of the clauses that `readonly=1` does not stop or that the API cannot honour:
  `INTO OUTFILE` (writes a file on the server even in readonly mode), `INSERT INTO` after a WITH
  (clickhouse-connect would run it through session SETs), `PARALLEL WITH`, and a trailing
  `FORMAT` (the API returns typed rows).

This is the first of two layers; the engine's `readonly=1` is the second (see `sql.py`). Pure:
no I/O, stdlib only.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Final

from driftline.errors import InvalidInputError

READ_KINDS: Final = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})
# Word pairs refused wherever they occur outside strings and comments.
_FORBIDDEN_PAIRS: Final = {
    ("INTO", "OUTFILE"): "INTO OUTFILE writes a file on the server",
    ("INSERT", "INTO"): "INSERT writes data",
    ("PARALLEL", "WITH"): "PARALLEL WITH runs several statements",
}
_HEREDOC: Final = re.compile(r"\$([A-Za-z0-9_]*)\$")
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_DIGITS: Final = frozenset("0123456789")


class StatementError(InvalidInputError):
    """The text is not one read-only statement."""


class TokenKind(Enum):
    WORD = "word"  # bare words: keywords and identifiers
    NUMBER = "number"
    STRING = "string"  # '...' literals and $tag$...$tag$ heredocs
    QUOTED = "quoted"  # "..." and `...` identifiers
    SEMICOLON = "semicolon"
    PUNCT = "punct"  # any other single character


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Statement:
    """One checked statement: `text` without the trailing `;` or comments; `kind` e.g. SELECT."""

    text: str
    kind: str

    @property
    def is_query(self) -> bool:
        """A SELECT-like statement, usable as a subquery (`SELECT * FROM (<text>)`)."""
        return self.kind in ("SELECT", "WITH", "(")


def tokens(sql: str) -> Iterator[Token]:
    """The significant tokens of `sql`; whitespace and comments are skipped.

    Raises StatementError for an unterminated string, quoted identifier or comment.
    """
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or (c == "#" and sql[i + 1 : i + 2] in (" ", "!")):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c in "'\"`":
            end = _skip_quoted(sql, i)
            kind = TokenKind.STRING if c == "'" else TokenKind.QUOTED
            yield Token(kind, i, end, sql[i:end])
            i = end
        elif c == "$" and (heredoc := _HEREDOC.match(sql, i)) is not None:
            close = sql.find(heredoc.group(0), heredoc.end())
            if close < 0:
                raise StatementError(f"unterminated heredoc {heredoc.group(0)} at position {i}")
            end = close + len(heredoc.group(0))
            yield Token(TokenKind.STRING, i, end, sql[i:end])
            i = end
        elif c in _DIGITS:
            end = _skip_number(sql, i)
            yield Token(TokenKind.NUMBER, i, end, sql[i:end])
            i = end
        elif _is_word_char(c) or c == "$":
            end = i + 1
            while end < n and (_is_word_char(sql[end]) or sql[end] == "$"):
                end += 1
            yield Token(TokenKind.WORD, i, end, sql[i:end])
            i = end
        else:
            kind = TokenKind.SEMICOLON if c == ";" else TokenKind.PUNCT
            yield Token(kind, i, i + 1, c)
            i += 1


def check_statement(sql: str) -> Statement:
    """Return the one read-only statement in `sql`, or raise StatementError saying why not."""
    significant = list(tokens(sql))
    while significant and significant[-1].kind is TokenKind.SEMICOLON:
        significant.pop()
    if not significant:
        raise StatementError("empty statement: send one read-only statement, e.g. SELECT 1")
    for token in significant:
        if token.kind is TokenKind.SEMICOLON:
            raise StatementError(
                f"one statement per request: ';' at position {token.start} is followed by more"
            )
    first = significant[0]
    kind = first.text.upper() if first.kind is TokenKind.WORD else first.text
    if kind not in READ_KINDS and kind != "(":
        raise StatementError(
            f"{first.text} is not a read-only statement: the query API runs SELECT, WITH, SHOW, "
            "DESCRIBE, EXPLAIN and EXISTS only"
        )
    words = [t.text.upper() if t.kind is TokenKind.WORD else "" for t in significant]
    for pair, why in _FORBIDDEN_PAIRS.items():
        for a, b in itertools.pairwise(words):
            if (a, b) == pair:
                raise StatementError(f"{' '.join(pair)} is not allowed: {why}")
    if _ends_with_format(words):
        raise StatementError("FORMAT is not allowed: the query API returns typed rows itself")
    return Statement(sql[first.start : significant[-1].end], kind)


def _ends_with_format(words: list[str]) -> bool:
    """`... FORMAT Name` at the end, possibly followed by a SETTINGS clause."""
    for i, word in enumerate(words[:-1]):
        at_end = i + 2 == len(words) or words[i + 2] == "SETTINGS"
        if word == "FORMAT" and words[i + 1] and at_end:
            return True
    return False


def _is_word_char(c: str) -> bool:
    return c == "_" or c.isalnum() or ord(c) >= 0x80


def _skip_block_comment(sql: str, start: int) -> int:
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise StatementError(f"unterminated /* comment at position {start}")


def _skip_quoted(sql: str, start: int) -> int:
    quote, i = sql[start], start + 1
    while i < len(sql):
        c = sql[i]
        if c == "\\":
            i += 2
        elif c == quote:
            if sql[i + 1 : i + 2] == quote:  # a doubled quote stands for itself
                i += 2
            else:
                return i + 1
        else:
            i += 1
    what = "string" if quote == "'" else "quoted identifier"
    raise StatementError(f"unterminated {what} starting at position {start}")


def _skip_number(sql: str, start: int) -> int:
    n = len(sql)
    hexadecimal = sql[start : start + 2] in ("0x", "0X")
    binary = sql[start : start + 2] in ("0b", "0B")
    digits = _HEX_DIGITS if hexadecimal else frozenset("01") if binary else _DIGITS
    i = start + 2 if hexadecimal or binary else start
    while i < n and (sql[i] in digits or sql[i] == "_"):
        i += 1
    if i < n and sql[i] == ".":
        i += 1
        while i < n and sql[i] in digits:
            i += 1
    if i + 1 < n and sql[i] in ("pP" if hexadecimal else "eE"):
        i += 1
        if i + 1 < n and sql[i] in "+-":  # the exponent's sign: `1e--5` is `1e-` then `-5`
            i += 1
        while i < n and sql[i] in _DIGITS:
            i += 1
    while i < n and _is_word_char(sql[i]):
        i += 1
    return i
