"""What the query API's SQL may reach: allow-lists checked on the engine's own parse tree.

`readonly=1` stops writes but not reads of the host: `SELECT file('/etc/passwd')` (the scalar
function), `url()`, `s3()`, `remote()`, `executable()`, `python()`, dictionaries with external
sources and `system.processes` all run in readonly mode. So before a statement runs, the engine
parses it (`EXPLAIN AST`, see sql.py) and this module walks that tree:

- the statement is a SELECT (or UNION/INTERSECT/EXCEPT of them), EXPLAIN of one, DESCRIBE,
  EXISTS, SHOW CREATE, or SHOW TABLES/DATABASES/COLUMNS/INDEXES; every other SHOW (SETTINGS,
  PROCESSLIST, USERS, GRANTS, MERGES, CLUSTERS, DICTIONARIES, ...) is refused;
- every function call names a function of `sandbox_functions.txt` (generated from the
  engine's catalogue minus files, network, AI services, dictionaries, introspection, engine
  internals and host facts — see scripts/gen_sandbox_functions.py), an aggregate of that list
  followed by combinators (`quantilesStateIf`). A name the engine adds in a later version is
  refused until it is reviewed into the list: an allow-list, not a deny-list. A lambda bound
  by name in WITH cannot be called by that name: the engine resolves `WITH x -> x AS FILE
  SELECT file(...)` to the real `file`, so a name is only ever checked against the list;
- every function in a FROM/JOIN position (a table function) is one of `TABLE_FUNCTIONS`,
  which generate rows from their arguments alone;
- no table or identifier lives in a closed database (`system`, except the harmless tables in
  `SYSTEM_TABLES`); `INFORMATION_SCHEMA` stays open (it names tables and columns, no paths).

Names are compared lower-cased: the engine accepts case variants (`FiLe`) of many functions,
and no two functions differ only by case. Aliases, comments, WITH, subqueries and EXPLAIN need
no special care: the tree already shows the function behind every alias and the body of every
subquery, wherever it sits. Pure: no I/O, stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final

from driftline.errors import InvalidInputError
from driftline.query.statement import TokenKind, tokens

# Table functions that make rows from their arguments, touching nothing outside the query.
TABLE_FUNCTIONS: Final = frozenset(
    {
        "numbers",
        "numbers_mt",
        "generate_series",
        "generateseries",
        "primes",
        "values",
        "view",
        "generaterandom",
        "null",
    }
)
CLOSED_DATABASES: Final = frozenset({"system", "_temporary_and_external_tables"})
# system tables that describe the engine's vocabulary, not the server, its users or its work.
SYSTEM_TABLES: Final = frozenset(
    {
        "one",
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "functions",
        "table_functions",
        "aggregate_function_combinators",
        "data_type_families",
        "time_zones",
        "formats",
    }
)
# Function nodes the engine makes itself: `x -> ...`, and the cast a bound `{p:Type}` becomes.
PARSER_FUNCTIONS: Final = frozenset({"lambda", "_cast"})
STATEMENTS: Final = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "Explain",
        "DescribeQuery",
        "ExistsTableQuery",
        "ExistsDatabaseQuery",
        "ExistsViewQuery",
        "ExistsDictionaryQuery",
        "ShowCreateTableQuery",
        "ShowCreateViewQuery",
        "ShowCreateDatabaseQuery",
        "ShowTables",
        "ShowColumns",
        "ShowIndexes",
    }
)
# The parser calls every SHOW TABLES-like statement ShowTables; its canonical text tells them
# apart. SHOW SETTINGS, MERGES, CLUSTERS, DICTIONARIES, ... are the same node.
SHOW_TABLES_FORMS: Final = (
    ("SHOW", "TABLES"),
    ("SHOW", "FULL", "TABLES"),
    ("SHOW", "DATABASES"),
    ("SHOW", "TEMPORARY", "TABLES"),
)
_TABLE_POSITIONS: Final = frozenset({"TableExpression"})
_NAMED_NODES: Final = frozenset({"Identifier", "TableIdentifier"})
_ALIAS: Final = re.compile(r"\s*\(alias (?P<alias>.*)\)$")
_CHILDREN: Final = re.compile(r"\s*\(children \d+\)$")


class SandboxError(InvalidInputError):
    """The statement reaches something the query API does not serve."""


@dataclass(slots=True)
class Node:
    """One line of `EXPLAIN AST`: `Function file (alias f) (children 1)`."""

    kind: str
    detail: str = ""
    alias: str = ""
    children: list[Node] = field(default_factory=list)

    def walk(self, parent: Node | None = None) -> Iterator[tuple[Node, Node | None]]:
        yield self, parent
        for child in self.children:
            yield from child.walk(self)


def parse_ast(lines: Iterable[str]) -> Node:
    """Build the tree from `EXPLAIN AST` output (one space of indent per level)."""
    root: Node | None = None
    stack: list[tuple[int, Node]] = []
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        node = _parse_line(line.strip())
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise SandboxError("the engine's parse tree has more than one statement")
        stack.append((depth, node))
    if root is None:
        raise SandboxError("the engine returned no parse tree for the statement")
    return root


def _parse_line(text: str) -> Node:
    text = _CHILDREN.sub("", text)
    alias = ""
    if (match := _ALIAS.search(text)) is not None:
        alias = match.group("alias")
        text = text[: match.start()]
    kind, _, detail = text.partition(" ")
    return Node(kind, detail.strip(), alias)


def check_tree(root: Node, rendering: str) -> None:
    """Raise SandboxError unless everything the statement reaches is allowed.

    `rendering` is the engine's canonical one-line text of the statement
    (`formatQuerySingleLine`), which tells the SHOW forms apart.
    """
    if root.kind not in STATEMENTS:
        raise SandboxError(f"{_statement_name(rendering)} is not available through the query API")
    if root.kind.startswith(("Show", "Exists")):
        _check_show(root.kind, rendering)
    for node, parent in root.walk():
        if node.kind == "Function":
            in_table_position = parent is not None and parent.kind in _TABLE_POSITIONS
            _check_function(node.detail, in_table_position)
        elif node.kind in _NAMED_NODES:
            _check_name(node.detail)


def _check_function(name: str, in_table_position: bool) -> None:
    lowered = name.lower()
    if in_table_position:
        if lowered not in TABLE_FUNCTIONS:
            raise SandboxError(
                f"table function {name}() is not allowed: the query API reads stored tables, "
                "and rows made from arguments alone (numbers, values, view, ...)"
            )
        return
    if lowered in PARSER_FUNCTIONS or is_allowed_function(lowered):
        return
    raise SandboxError(
        f"function {name}() is not allowed: it reaches outside the query (files, network, "
        "server or host facts) or is not on the query API's function list (a lambda bound in "
        "WITH cannot be called by name: write it inline)"
    )


def _check_name(qualified: str) -> None:
    database, dot, table = qualified.partition(".")
    if dot and database in CLOSED_DATABASES and not _open_system_table(database, table):
        raise SandboxError(
            f"{qualified} is not available through the query API: of the system tables only "
            "the engine's vocabulary (system.one, system.numbers, system.functions, ...) is"
        )


def _open_system_table(database: str, table: str) -> bool:
    return database == "system" and table.partition(".")[0] in SYSTEM_TABLES


def _check_show(kind: str, rendering: str) -> None:
    words = [t.text for t in tokens(rendering)]
    upper = [w.upper() for w in words]
    if kind == "ShowTables" and not any(
        tuple(upper[: len(form)]) == form for form in SHOW_TABLES_FORMS
    ):
        raise SandboxError(f"{_statement_name(rendering)} is not available through the query API")
    names = [
        t.text.strip('`"')
        for t in tokens(rendering)
        if t.kind in (TokenKind.WORD, TokenKind.QUOTED)
    ]
    for i, name in enumerate(names):
        table = names[i + 1] if i + 1 < len(names) else ""
        if name in CLOSED_DATABASES and not _open_system_table(name, table):
            raise SandboxError(f"the {name} database is not available through the query API")


def _statement_name(rendering: str) -> str:
    words = [t.text.upper() for t in tokens(rendering) if t.kind is TokenKind.WORD]
    return " ".join(words[:2]) or "this statement"


@cache
def _function_lists() -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """(functions, aggregates, combinators), lower-cased, from sandbox_functions.txt."""
    text = resources.files("driftline.query").joinpath("sandbox_functions.txt").read_text()
    functions: set[str] = set()
    aggregates: set[str] = set()
    combinators: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("+"):
            combinators.append(line[1:].lower())
            continue
        name, _, mark = line.partition(" ")
        functions.add(name.lower())
        if mark == "aggregate":
            aggregates.add(name.lower())
    return frozenset(functions), frozenset(aggregates), tuple(combinators)


def is_allowed_function(name: str) -> bool:
    """`name` (lower-cased) is on the list, or an aggregate of the list plus combinators."""
    functions, aggregates, combinators = _function_lists()
    if name in functions:
        return True
    return _strip_combinators(name, aggregates, combinators)


def _strip_combinators(name: str, aggregates: frozenset[str], combinators: tuple[str, ...]) -> bool:
    for combinator in combinators:
        if name.endswith(combinator) and len(name) > len(combinator):
            base = name[: -len(combinator)]
            if base in aggregates or _strip_combinators(base, aggregates, combinators):
                return True
    return False
