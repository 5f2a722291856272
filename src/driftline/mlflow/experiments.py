"""SearchExperiments' filter and order (MLflow's SearchExperimentsUtils), over experiments
held in memory. Pure.

    filter  := clause (AND clause)*
    clause  := [attribute.]name|creation_time|last_update_time  op  value
             | tags.<key>  op  'value'
    op      := = != LIKE ILIKE (strings); = != < <= > >= (times, ms since the epoch)
    order   := name | experiment_id | creation_time | last_update_time  [ASC|DESC]
               default: creation_time DESC, experiment_id ASC (MLflow's)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from driftline.mlflow.errors import invalid
from driftline.query.experiments import ExperimentInfo

_CLAUSE: Final = re.compile(
    r"""^\s*(?:(?P<entity>attributes?|attr|tags?)\.)?
        (?P<key>`[^`]+`|"[^"]+"|[A-Za-z_][\w.]*)\s*
        (?P<op>!=|<=|>=|=|<|>|(?i:ILIKE)|(?i:LIKE))\s*
        (?P<value>'(?:[^']|'')*'|"(?:[^"])*"|-?\d+)\s*$""",
    re.VERBOSE,
)
_AND: Final = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)
_STRING_KEYS: Final = frozenset({"name"})
_TIME_KEYS: Final = frozenset({"creation_time", "last_update_time"})
_ORDER_KEYS: Final = frozenset({"name", "experiment_id", "creation_time", "last_update_time"})

Predicate = Callable[[ExperimentInfo], bool]


def like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as a regex: % any run, _ one character."""
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op in ("LIKE", "ILIKE"):
        return like(right, ignore_case=op == "ILIKE").fullmatch(left) is not None
    return bool({"<": left < right, "<=": left <= right, ">": left > right,
                 ">=": left >= right}[op])  # fmt: skip


def _unquote(text: str) -> str:
    if text[0] in "'\"`":
        return text[1:-1].replace(text[0] * 2, text[0])
    return text


def _predicate(clause: str) -> Predicate:
    m = _CLAUSE.match(clause)
    if m is None:
        raise invalid(f"Invalid filter string: {clause.strip()!r}")
    entity = (m["entity"] or "attribute").lower()
    key = _unquote(m["key"])
    op = m["op"].upper()
    raw = m["value"]
    if entity.startswith("tag"):
        if raw[0] not in "'\"" or op not in ("=", "!=", "LIKE", "ILIKE"):
            raise invalid(f"Invalid comparison for tag {key!r} in {clause.strip()!r}")
        value = _unquote(raw)
        return lambda e: key in e.tags and _compare(op, e.tags[key], value)
    if key in _STRING_KEYS:
        if raw[0] not in "'\"" or op not in ("=", "!=", "LIKE", "ILIKE"):
            raise invalid(f"Invalid comparison for attribute {key!r} in {clause.strip()!r}")
        value = _unquote(raw)
        return lambda e: _compare(op, e.name, value)
    if key in _TIME_KEYS:
        if raw[0] in "'\"" or op in ("LIKE", "ILIKE"):
            raise invalid(f"Invalid comparison for attribute {key!r} in {clause.strip()!r}")
        number = int(raw)
        field = "created_ns" if key == "creation_time" else "updated_ns"
        return lambda e: _compare(op, getattr(e, field) // 1_000_000, number)
    raise invalid(
        f"Invalid attribute key {key!r} specified. Valid keys are "
        f"{sorted(_STRING_KEYS | _TIME_KEYS)}"
    )


def parse_filter(text: str) -> list[Predicate]:
    if not text.strip():
        return []
    return [_predicate(clause) for clause in _AND.split(text.strip())]


def _sort_value(e: ExperimentInfo, key: str) -> Any:
    if key == "experiment_id":
        return (0, int(e.experiment_id)) if e.experiment_id.isdigit() else (1, e.experiment_id)
    if key == "name":
        return e.name
    return e.created_ns if key == "creation_time" else e.updated_ns


def order(experiments: Sequence[ExperimentInfo], order_by: Sequence[str]) -> list[ExperimentInfo]:
    keys: list[tuple[str, bool]] = []
    for clause in order_by:
        words = clause.split()
        if not words or len(words) > 2:
            raise invalid(f"Invalid order_by clause {clause!r}")
        key = _unquote(words[0].removeprefix("attributes.").removeprefix("attribute."))
        if key not in _ORDER_KEYS:
            raise invalid(f"Invalid order_by key {key!r}; one of {sorted(_ORDER_KEYS)}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise invalid(f"Invalid order_by direction {words[1]!r}")
        keys.append((key, direction == "ASC"))
    if not any(k == "creation_time" for k, _ in keys):
        keys.append(("creation_time", False))
    if not any(k == "experiment_id" for k, _ in keys):
        keys.append(("experiment_id", True))
    out = list(experiments)
    for key, ascending in reversed(keys):  # stable sorts, least significant first
        out.sort(key=lambda e, k=key: _sort_value(e, k), reverse=not ascending)  # type: ignore[misc]
    return out
