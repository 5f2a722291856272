"""Read-only SQL on ClickHouse: one statement, bounded in rows and time, server-side parameters.

Two layers keep a statement from writing:

1. `statement.check_statement` accepts one statement of a reading kind and refuses the clauses
   that readonly mode does not stop (INTO OUTFILE, ...). The engine then parses the text itself
   (`formatQuerySingleLine`), which settles "one statement" with ClickHouse's own parser, and
   the same check runs again on its canonical rendering, so a lexer disagreement cannot hide a
   second statement or a forbidden clause. (This matters: clickhouse-connect's chDB backend
   appends the settings to the SQL text, and chDB runs every statement it is given.)
2. The statement runs with `readonly=1`, the last of its settings: ClickHouse applies settings
   in order and refuses to change any after readonly=1, so INSERT, CREATE, DROP, ALTER, SET,
   table functions and a `SETTINGS` clause of the user's own all fail with READONLY (164).

Readonly does not stop reads of the host (`SELECT file('/etc/passwd')`, `url()`,
`system.processes`), so a third layer confines what a statement may reach: the engine parses it
(`EXPLAIN AST`) and `sandbox.check_tree` walks that tree against allow-lists of functions,
table functions and system tables. chDB has no users to restrict (its one user may not create
any), so on the embedded engine the allow-list is the boundary; on a server, also give the
query API a user without the SOURCES grants (docs/sql-sandbox.md).

Rows are bounded with `max_result_rows=max_rows+1` and `result_overflow_mode='break'`: the
engine stops at a block boundary past the limit, we keep `max_rows` and report `truncated` when
more came back. Time is bounded with `max_execution_time` (TIMEOUT_EXCEEDED, 159) and, for what
that setting does not cover (schema inference of a table function waits on the network), the
HTTP/TCP timeouts of the engine set to the same bound; a caller that gives up earlier cancels the
statement with `cancel_statement` (KILL QUERY on the tag the statement carries as a leading
comment), which frees the worker. Memory is bounded with `max_memory_usage`: past it the
statement fails alone (MEMORY_LIMIT_EXCEEDED, 241 → SqlTooLargeError) and ingest goes on.

Timestamps come back timezone-aware (the column's zone, else the server's).

Parameters are bound by the engine into `{name:Type}` placeholders and never become SQL text.
A value is the placeholder type's text form (`['a','b']` for Array(String), `\\N` for NULL in a
Nullable number); String, FixedString and Enum values are taken verbatim.

Errors, as the API maps them: `SqlError` (an InvalidInputError: syntax, unknown table, not
read-only, bad parameter) → INVALID_ARGUMENT; `SqlTimeoutError` → DEADLINE_EXCEEDED;
`SqlTooLargeError` → RESOURCE_EXHAUSTED; `StorageUnavailableError` → UNAVAILABLE.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    DatabaseError,
    OperationalError,
)

from driftline.errors import DriftlineError, InvalidInputError, RetryableError, TooLargeError
from driftline.query.sandbox import check_tree, parse_ast
from driftline.query.statement import Statement, check_statement

TIMEOUT_EXCEEDED: Final = 159
SYNTAX_ERROR: Final = 62
UNKNOWN_FUNCTION: Final = 46
MEMORY_LIMIT_EXCEEDED: Final = 241
# The engine, not the statement, is at fault: the same request may succeed later.
_UNAVAILABLE_CODES: Final = frozenset({202, 203, 209, 210, 236, 242, 425, 999})
_PARAMETER_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER: Final = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}")
_WRAPPER: Final = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_VERBATIM_TYPES: Final = ("String", "FixedString", "Enum")
_IN_SCOPE: Final = re.compile(r":\s*In scope SELECT formatQuerySingleLine.*", re.DOTALL)
DEFAULT_MAX_MEMORY_BYTES: Final = 1 << 30
_TAG_PREFIX: Final = "driftline-sql:"


class SqlError(InvalidInputError):
    """ClickHouse refused the statement; `code`/`name` are its error code and name when known."""

    def __init__(self, message: str, *, code: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class SqlTimeoutError(DriftlineError):
    """The statement ran past its time limit."""


class SqlTooLargeError(TooLargeError):
    """The statement needed more memory than the engine allows."""


class StorageUnavailableError(RetryableError):
    """ClickHouse could not be reached, or could not serve the statement right now."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # as ClickHouse spells it, e.g. "Nullable(String)"


@dataclass(frozen=True, slots=True)
class SqlResult:
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Any]]  # Python values as clickhouse-connect returns them
    truncated: bool  # more rows existed than `rows` holds
    rows_read: int
    elapsed_s: float


class _Raw:
    """A bind value clickhouse-connect passes through untouched (it falls back to `str()`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def readonly_settings(
    max_rows: int, max_execution_time_s: float, max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
) -> dict[str, Any]:
    """Per-statement settings. `readonly` MUST stay last: after it nothing can be changed."""
    seconds = max(1, math.ceil(max_execution_time_s))  # the socket timeouts take whole seconds
    return {
        "max_result_rows": max_rows + 1,
        "result_overflow_mode": "break",
        "max_execution_time": max_execution_time_s,
        "timeout_overflow_mode": "throw",
        "max_memory_usage": max_memory_bytes,
        "allow_introspection_functions": 0,
        # Network waits that max_execution_time does not see (schema inference, connecting).
        "http_connection_timeout": min(seconds, 5),
        "http_receive_timeout": seconds,
        "http_send_timeout": seconds,
        "http_max_tries": 1,
        "connect_timeout": min(seconds, 5),
        "receive_timeout": seconds,
        "send_timeout": seconds,
        "readonly": 1,
    }


def new_tag() -> str:
    """A tag to run a statement under, so that `cancel_statement` can find it."""
    return uuid.uuid4().hex


def run_readonly_sql(
    client: Client,
    sql: str,
    parameters: Mapping[str, str],
    max_rows: int,
    max_execution_time_s: float,
    *,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
    tag: str = "",
) -> SqlResult:
    """Run one read-only statement; at most `max_rows` rows, `max_execution_time_s` seconds and
    `max_memory_bytes` of memory. `tag` (from `new_tag`) lets `cancel_statement` stop it."""
    if max_rows <= 0 or max_execution_time_s <= 0 or max_memory_bytes <= 0:
        raise ValueError("max_rows, max_execution_time_s and max_memory_bytes must be > 0")
    statement = check_statement(sql)
    binds = bind_parameters(statement.text, parameters)
    settings = readonly_settings(max_rows, max_execution_time_s, max_memory_bytes)
    rendering = confirm_with_engine(client, statement, settings)
    confine(client, statement, binds, settings, rendering)
    started = time.monotonic()
    text = f"/* {_TAG_PREFIX}{tag} */ {statement.text}" if tag else statement.text
    try:
        result = client.query(text, parameters=binds or None, settings=settings, tz_mode="aware")
    except (ClickHouseError, OSError) as exc:
        raise classify(exc) from exc
    elapsed_s = time.monotonic() - started
    rows = result.result_rows
    columns = tuple(
        Column(name, kind.name)
        for name, kind in zip(result.column_names, result.column_types, strict=True)
    )
    if not columns and statement.is_query:
        columns = _probe_columns(client, statement, binds, settings)
    summary = result.summary or {}
    return SqlResult(
        columns=columns,
        rows=rows[:max_rows],
        truncated=len(rows) > max_rows,
        rows_read=_int(summary.get("read_rows")),
        elapsed_s=_int(summary.get("elapsed_ns")) / 1e9 or elapsed_s,
    )


def bind_parameters(sql: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    """Bind values for the engine; every name must appear as a `{name:Type}` placeholder."""
    types: dict[str, str] = {}
    for name, type_name in _PLACEHOLDER.findall(sql):
        types.setdefault(name, type_name)
    binds: dict[str, Any] = {}
    for name, value in parameters.items():
        if not _PARAMETER_NAME.fullmatch(name):
            raise SqlError(f"parameter name {name!r}: use letters, digits and '_'")
        if name not in types:
            raise SqlError(f"parameter {name!r} is not used: write {{{name}:Type}} in the query")
        verbatim = unwrap_type(types[name]).startswith(_VERBATIM_TYPES)
        binds[name] = _Raw(_escape(value) if verbatim else value)
    return binds


def classify(exc: BaseException) -> DriftlineError:
    """Map a clickhouse-connect (or socket) error to our error tree."""
    code = getattr(exc, "code", None)
    message = _message(exc)
    if code == TIMEOUT_EXCEEDED:
        return SqlTimeoutError(message)
    if code == MEMORY_LIMIT_EXCEEDED:
        return SqlTooLargeError(
            "the statement needs more memory than one query may use "
            f"(query.max_memory_usage_mib): {message.splitlines()[0]}"
        )
    if isinstance(exc, OSError) or code in _UNAVAILABLE_CODES:
        return StorageUnavailableError(f"ClickHouse is unavailable: {message}")
    if isinstance(exc, OperationalError) and code is None:
        return StorageUnavailableError(f"ClickHouse is unavailable: {message}")
    if isinstance(exc, DatabaseError):
        return SqlError(message, code=code, name=getattr(exc, "name", None))
    return StorageUnavailableError(f"ClickHouse client error: {message}")


def confirm_with_engine(client: Client, statement: Statement, settings: dict[str, Any]) -> str:
    """Let ClickHouse's parser decide that the text is one statement, and check its rendering.

    Returns the rendering (the engine's canonical text), or the text itself on a server too old
    to render it."""
    try:
        result = client.query(
            "SELECT formatQuerySingleLine({q:String})",
            parameters={"q": _Raw(_escape(statement.text))},
            settings=settings,
        )
    except (ClickHouseError, OSError) as exc:
        error = classify(exc)
        if isinstance(error, SqlError) and error.code == UNKNOWN_FUNCTION:
            return statement.text  # a server older than 23.10; HTTP servers refuse
            # multi-statements themselves
        if isinstance(error, SqlError) and error.code == SYNTAX_ERROR:
            raise SqlError(_IN_SCOPE.sub("", str(error)), code=error.code, name=error.name) from exc
        raise error from exc
    rendering = str(result.result_rows[0][0])
    check_statement(rendering)
    return rendering


def confine(
    client: Client,
    statement: Statement,
    binds: dict[str, Any],
    settings: dict[str, Any],
    rendering: str,
) -> None:
    """Let the engine parse the statement and check its tree against the sandbox's lists."""
    try:
        result = client.query(
            f"EXPLAIN AST {statement.text}", parameters=binds or None, settings=settings
        )
    except (ClickHouseError, OSError) as exc:
        raise classify(exc) from exc
    check_tree(parse_ast(str(row[0]) for row in result.result_rows), rendering)


def cancel_statement(client: Client, tag: str) -> None:
    """Stop the statement running under `tag` (best effort: it may have ended already)."""
    if not re.fullmatch(r"[0-9a-f]{32}", tag):
        raise ValueError(f"not a tag from new_tag(): {tag!r}")
    try:
        client.command(
            f"KILL QUERY WHERE startsWith(query, '/* {_TAG_PREFIX}{tag} */') ASYNC",
        )
    except (ClickHouseError, OSError) as exc:
        raise classify(exc) from exc


def _probe_columns(
    client: Client, statement: Statement, binds: dict[str, Any], settings: dict[str, Any]
) -> tuple[Column, ...]:
    """Column names and types of an empty result (chDB returns none with zero rows)."""
    try:
        probe = client.query(
            f"SELECT * FROM ({statement.text}\n) LIMIT 0",
            parameters=binds or None,
            settings=settings,
        )
    except (ClickHouseError, OSError):
        return ()
    return tuple(
        Column(name, kind.name)
        for name, kind in zip(probe.column_names, probe.column_types, strict=True)
    )


def unwrap_type(type_name: str) -> str:
    """`LowCardinality(Nullable(String))` → `String`."""
    type_name = type_name.strip()
    while (match := _WRAPPER.match(type_name)) is not None:
        type_name = match.group(1).strip()
    return type_name


def _escape(value: str) -> str:
    """ClickHouse parses parameter values in its escaped text form: keep every character."""
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
    )


def _message(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
