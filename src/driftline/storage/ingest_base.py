"""What every ingest statement module builds on: the statement type, the OTLP enum spellings,
the ARRAY JOIN chains, and SQL helpers that read scalar AnyValue tuples.

A leaf module (it imports no other ingest module), so `ingest_sql` (OTel tables),
`ingest_ml_sql` (ML tables) and `ingest_runs_sql` (run tables) each import only downwards, and
`ingest_plan` composes them into the statements a signal's batch feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from driftline.signals import Signal

SPAN_KINDS: Final = "['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer']"
STATUS_CODES: Final = "['Unset', 'Ok', 'Error']"

SPAN_JOINS: Final = (
    "ARRAY JOIN resource_spans AS rs\nARRAY JOIN rs.scope_spans AS ss\nARRAY JOIN ss.spans AS s"
)
LOG_JOINS: Final = (
    "ARRAY JOIN resource_logs AS rl\nARRAY JOIN rl.scope_logs AS sl\nARRAY JOIN sl.log_records AS r"
)

# Scalar attribute values only (what the ML and run statements read).
SCALAR_T: Final = (
    "Tuple(string_value Nullable(String), bool_value Nullable(UInt8), "
    "int_value Nullable(Int64), double_value Nullable(Float64))"
)
SCALAR_KVS_T: Final = f"Array(Tuple(key String, value {SCALAR_T}))"


@dataclass(frozen=True, slots=True)
class IngestStatement:
    """One INSERT … SELECT: the target table, its column list and the SELECT body that reads
    from `{source}` (substituted by the inserter with file(...) or input(...))."""

    signal: Signal
    table: str
    columns: tuple[str, ...]
    select: str
    # The columns decoded from the payload; None = the signal's full STRUCTURES entry. A
    # statement that needs few fields decodes fewer (unlisted message fields are skipped).
    structure: str | None = None
    # Bytes every payload that can yield a row contains (an attribute key such as
    # b"ml.run.id"); the inserter gives the statement only those payloads, and skips it when
    # there are none. A pure function of the WAL bytes, so replays decide the same way.
    requires: bytes | None = None

    def render(self, source: str, database: str) -> str:
        cols = ", ".join(f"`{c}`" for c in self.columns)
        select = self.select.replace("{source}", source)
        return f"INSERT INTO `{database}`.`{self.table}` ({cols}) {select}"


def literal(text: str) -> str:
    """A SQL string literal for a constant we own (attribute keys), never for user data."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def attr(kvs: str, key: str) -> str:
    """The AnyValue tuple of `key` in a KeyValue array (all members NULL when absent)."""
    # indexOf over the key subcolumn, not arrayFirst with a lambda: several times faster, and
    # index 0 (absent) yields the default tuple, whose Nullable members are all NULL.
    return f"arrayElement({kvs}.value, indexOf({kvs}.key, {literal(key)}))"


def as_text(value: str) -> str:
    """A scalar AnyValue as text ('' when absent), for identities such as model names."""
    return (
        f"multiIf({value}.string_value IS NOT NULL, {value}.string_value, "
        f"{value}.int_value IS NOT NULL, toString({value}.int_value), "
        f"{value}.double_value IS NOT NULL, toString({value}.double_value), "
        f"{value}.bool_value IS NOT NULL, if({value}.bool_value = 1, 'true', 'false'), '')"
    )


def as_number(value: str) -> str:
    """A numerical AnyValue (double, int, bool as 0/1) as Float64; NaN otherwise."""
    return (
        f"multiIf({value}.double_value IS NOT NULL, {value}.double_value, "
        f"{value}.int_value IS NOT NULL, toFloat64({value}.int_value), "
        f"{value}.bool_value IS NOT NULL, toFloat64({value}.bool_value), nan)"
    )
