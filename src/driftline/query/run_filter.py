"""MLflow's `search_runs` filter and order-by grammar, parsed into an AST (anchors-ml.md §4.2).

    filter   := clause ( AND clause )*                      OR is refused, as MLflow does
    clause   := identifier comparator value
    identifier := [entity "."] key                          no entity: an attribute
    entity   := metric(s) | param(s) | parameter(s) | tag(s) | attribute(s) | attr | run
                | dataset(s)                                 (optionally `back-ticked`)
    key      := name | `back-ticked` | "double-quoted"      bare names may contain dots
    value    := 'single' | "double" quoted string | number | ( 'a', 'b', ... )

What each entity accepts (MLflow's SearchUtils, verified against 3.x):

    metrics                 > >= != = < <=                 a number
    params, tags            = != LIKE ILIKE IS NULL IS NOT NULL    a quoted string
    string attributes       = != LIKE ILIKE IN NOT IN       a quoted string; a list only for run_id
    numeric attributes      > >= != = < <=                  a number (ms since the epoch)
    datasets                = != LIKE ILIKE IN NOT IN       a quoted string or a list

Searchable attributes: artifact_uri, end_time, run_id, run_name, start_time, status, user_id,
with the aliases `created` (start_time) and `run name` (run_name). Keywords and comparators are
case-insensitive. Every error is a `FilterError` (INVALID_ARGUMENT) naming the position and
what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from driftline.errors import InvalidInputError

Entity = Literal["metric", "param", "tag", "attribute", "dataset"]
Value = float | int | str | tuple[str, ...] | None

ENTITIES: Final[dict[str, Entity]] = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}  # fmt: skip
NUMERIC_ATTRIBUTES: Final = frozenset({"start_time", "end_time", "created", "Created"})
STRING_ATTRIBUTES: Final = frozenset(
    {"artifact_uri", "run_id", "run_name", "status", "user_id", "run name", "Run name",
     "Run Name"}
)  # fmt: skip
SEARCHABLE_ATTRIBUTES: Final = NUMERIC_ATTRIBUTES | STRING_ATTRIBUTES
ORDERABLE_ATTRIBUTES: Final = frozenset(
    {"start_time", "end_time", "status", "run_name", "run_id", "user_id", "artifact_uri",
     "experiment_id", "created", "Created"}
)  # fmt: skip
DATASET_KEYS: Final = frozenset({"name", "digest", "context"})
ALIASES: Final = {"created": "start_time", "Created": "start_time", "run name": "run_name",
                  "Run name": "run_name", "Run Name": "run_name"}  # fmt: skip

NUMBER_COMPARATORS: Final = frozenset({">", ">=", "!=", "=", "<", "<="})
PARAM_COMPARATORS: Final = frozenset({"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"})
STRING_ATTRIBUTE_COMPARATORS: Final = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
COMPARATORS: Final[dict[Entity, frozenset[str]]] = {
    "metric": NUMBER_COMPARATORS,
    "param": PARAM_COMPARATORS,
    "tag": PARAM_COMPARATORS,
    "attribute": STRING_ATTRIBUTE_COMPARATORS,  # numeric attributes: NUMBER_COMPARATORS
    "dataset": STRING_ATTRIBUTE_COMPARATORS,
}


class FilterError(InvalidInputError):
    """The filter or order-by text is not in MLflow's grammar; says where and why."""

    def __init__(self, text: str, position: int, reason: str) -> None:
        super().__init__(f"invalid filter at position {position}: {reason} (in {text!r})")
        self.position = position
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: Entity
    key: str  # aliases resolved: created → start_time, "run name" → run_name
    comparator: str  # upper case: =, !=, >, LIKE, IN, NOT IN, IS NULL, ...
    value: Value
    position: int


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool


# ---- tokens --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, quoted (backticks), string, dstring (double quotes), number, op, punct, end
    text: str
    value: str
    position: int


_TOKEN: Final = re.compile(
    r"""(?P<ws>\s+)
      | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<dstring>"(?:[^"\\]|\\.|"")*")
      | (?P<quoted>`[^`]*`)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>>=|<=|!=|<>|==|=|<|>)
      | (?P<punct>[().,])""",
    re.VERBOSE,
)


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterError(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        raw = m.group()
        if kind != "ws":
            value = _unquote(raw) if kind in ("string", "dstring") else raw
            if kind == "quoted":
                value = raw[1:-1]
            out.append(_Token(kind, raw, value, pos))
        pos = m.end()
    out.append(_Token("end", "", "", len(text)))
    return out


# ---- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.value.upper() in words

    def fail(self, reason: str, tok: _Token | None = None) -> FilterError:
        return FilterError(self.text, (tok or self.tok).position, reason)

    def identifier(self, attributes: frozenset[str]) -> tuple[Entity, str, int]:
        start = self.tok
        if start.kind not in ("name", "quoted", "dstring"):
            raise self.fail(
                f"expected an identifier such as metrics.<key>, params.<key>, tags.<key> or "
                f"attributes.<key>, found {start.text or 'the end'}"
            )
        self.next()
        if self.tok.kind == "punct" and self.tok.value == ".":
            self.next()
            entity_text = start.value
            entity = ENTITIES.get(entity_text)
            if entity is None:
                raise self.fail(
                    f"invalid entity type {entity_text!r}; valid values are metric(s), "
                    "param(s)/parameter(s), tag(s), attribute(s)/attr/run, dataset(s)",
                    start,
                )
            key = self._key()
        else:
            entity, key = "attribute", start.value
        if entity == "attribute" and key not in attributes:
            raise self.fail(
                f"invalid attribute key {key!r}; valid keys are {sorted(attributes)}", start
            )
        if entity == "dataset" and key not in DATASET_KEYS:
            raise self.fail(
                f"invalid dataset key {key!r}; valid keys are {sorted(DATASET_KEYS)}", start
            )
        return entity, ALIASES.get(key, key) if entity == "attribute" else key, start.position

    def _key(self) -> str:
        tok = self.next()
        if tok.kind in ("quoted", "dstring", "string"):
            return tok.value
        if tok.kind != "name" and tok.kind != "number":
            raise self.fail("expected a key after the '.'", tok)
        parts = [tok.value]
        # A bare key may contain dots (metrics.val.acc), as MLflow's identifiers do.
        while self.tok.kind == "punct" and self.tok.value == ".":
            self.next()
            part = self.next()
            if part.kind not in ("name", "number"):
                raise self.fail("expected a key part after the '.'", part)
            parts.append(part.value)
        return ".".join(parts)

    def comparator(self) -> str:
        tok = self.tok
        if tok.kind == "op":
            self.next()
            return tok.value
        if self.keyword("LIKE", "ILIKE", "IN"):
            return self.next().value.upper()
        if self.keyword("NOT"):
            self.next()
            if not self.keyword("IN"):
                raise self.fail("expected IN after NOT")
            self.next()
            return "NOT IN"
        if self.keyword("IS"):
            self.next()
            negated = self.keyword("NOT")
            if negated:
                self.next()
            if not self.keyword("NULL"):
                raise self.fail("expected NULL after IS" + (" NOT" if negated else ""))
            self.next()
            return "IS NOT NULL" if negated else "IS NULL"
        raise self.fail(f"expected a comparator, found {tok.text or 'the end'}")

    def value(self, entity: Entity, key: str, comparator: str) -> Value:
        tok = self.tok
        if comparator in ("IS NULL", "IS NOT NULL"):
            return None
        numeric = entity == "metric" or (entity == "attribute" and key in NUMERIC_ATTRIBUTES)
        if numeric:
            if tok.kind != "number":
                what = "metric" if entity == "metric" else f"numeric attribute {key}"
                raise self.fail(
                    f"expected a numeric value for {what}, found {tok.text or 'the end'}"
                )
            self.next()
            number = float(tok.value)
            if entity == "attribute":
                if not number.is_integer():
                    raise self.fail(f"{key} takes whole milliseconds since the epoch", tok)
                return int(number)
            return number
        if comparator in ("IN", "NOT IN"):
            if not (tok.kind == "punct" and tok.value == "("):
                raise self.fail(
                    f"expected a parenthesised list of quoted strings after {comparator}"
                )
            if entity == "attribute" and key != "run_id":
                raise self.fail(
                    "only the 'run_id' attribute supports comparison with a list of quoted "
                    "string values", tok,
                )  # fmt: skip
            return self._list()
        if tok.kind not in ("string", "dstring"):
            raise self.fail(
                f"expected a quoted string value for {entity} (e.g. 'my-value'), found "
                f"{tok.text or 'the end'}"
            )
        self.next()
        return tok.value

    def _list(self) -> tuple[str, ...]:
        self.next()  # (
        items: list[str] = []
        while True:
            tok = self.next()
            if tok.kind not in ("string", "dstring"):
                raise self.fail("expected a quoted string in the list", tok)
            items.append(tok.value)
            sep = self.next()
            if sep.kind == "punct" and sep.value == ")":
                return tuple(items)
            if not (sep.kind == "punct" and sep.value == ","):
                raise self.fail("expected ',' or ')' in the list", sep)

    def clause(self) -> Comparison:
        entity, key, position = self.identifier(SEARCHABLE_ATTRIBUTES)
        at = self.tok
        comparator = self.comparator()
        allowed = COMPARATORS[entity]
        if entity == "attribute" and key in NUMERIC_ATTRIBUTES:
            allowed = NUMBER_COMPARATORS
        if comparator not in allowed:
            raise self.fail(
                f"invalid comparator {comparator!r} for {entity} {key!r}; one of "
                f"{sorted(allowed)}", at,
            )  # fmt: skip
        return Comparison(entity, key, comparator, self.value(entity, key, comparator), position)

    def filter(self) -> list[Comparison]:
        clauses = [self.clause()]
        while self.tok.kind != "end":
            if self.keyword("AND"):
                self.next()
                clauses.append(self.clause())
                continue
            raise self.fail(
                f"invalid clause(s) in filter string: {self.tok.text!r}; clauses are joined "
                "with AND only (OR and parentheses are not supported)"
            )
        return clauses


def parse_filter(text: str) -> list[Comparison]:
    """The AND-ed comparisons of `text` (empty text: no condition)."""
    if not text.strip():
        return []
    return _Parser(text).filter()


def parse_order_by(text: str) -> OrderBy:
    """`<identifier> [ASC|DESC]`, e.g. `metrics.rmse ASC`, `attributes.start_time DESC`."""
    parser = _Parser(text)
    if parser.tok.kind == "end":
        raise parser.fail("empty order_by clause")
    entity, key, _ = parser.identifier(ORDERABLE_ATTRIBUTES)
    if entity == "dataset":
        raise FilterError(text, 0, "datasets cannot be ordered by")
    ascending = True
    if parser.keyword("ASC", "DESC"):
        ascending = parser.next().value.upper() == "ASC"
    if parser.tok.kind != "end":
        raise parser.fail(f"invalid order_by clause: unexpected {parser.tok.text!r}")
    return OrderBy(entity, key, ascending)
