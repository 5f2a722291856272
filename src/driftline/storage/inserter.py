"""Insert a batch of raw OTLP requests, letting ClickHouse decode and flatten them.

One call inserts one signal's payloads into each of that signal's tables with explicit settings:
synchronous (`async_insert=0`), one thread per statement (block boundaries depend only on the
data), and an `insert_deduplication_token` per statement derived from the caller's token (the
WAL record range). A replay of the same range after a crash therefore produces the same blocks
with the same tokens, and the tables (which keep `non_replicated_deduplication_window` insert
hashes) drop them: exactly-once. The same token is never reused for other data.

Both cores: the batch is cut into sub-ranges of consecutive records of at most
`SUBRANGE_BYTES` payload bytes each (a pure function of the WAL bytes, never of the number of
lanes or of timing), each inserted with the token `<token>@<first id>-<last id>:<table>`, and
the sub-ranges run on `lanes` engine connections at once. A trace batch is one statement per
sub-range (the span staging table, whose views fill every trace table: ingest_staging).

A statement with `requires` (the run tables: b"ml.run.id") reads only the payloads containing
those bytes, and is skipped when none does — a choice made from the WAL bytes alone, so a
replay makes it again, and ordinary logs do not pay for run tracking.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from driftline import telemetry
from driftline.errors import BatchTooLargeError, PermanentError, RetryableError, UnavailableError
from driftline.signals import Signal
from driftline.storage.client import Target
from driftline.storage.ingest_base import IngestStatement
from driftline.storage.ingest_plan import statements_for
from driftline.storage.ingest_sql import MESSAGE_NAMES, STRUCTURES, ingest_proto_text

# The most payload bytes one INSERT reads. Every INSERT costs ~250 ms of engine CPU beyond
# its rows (planning the views, then merging the extra parts it leaves), measured by draining
# 200 requests of 1000 spans: 17 µs/span in 32 MiB inserts, 23 µs in 16 MiB, 27 µs in 8 MiB.
# On two cores shared with the receiver that costs more than the second lane gains, so a
# default batch (batch.max_size_mib 32) is one sub-range, and larger batches are split.
SUBRANGE_BYTES: Final = 32 << 20

# ClickHouse error codes that will fail again with the same data (see ErrorCodes.cpp).
_PERMANENT_CODES: Final = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        33,  # CANNOT_READ_ALL_DATA
        69,  # ARGUMENT_OUT_OF_BOUND
        117,  # INCORRECT_DATA
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW / out of range for DateTime64
        434,  # CANNOT_PARSE_PROTOBUF_SCHEMA
        444,  # UNKNOWN_PROTOBUF_FORMAT (corrupted or mismatched message)
        1000,  # POCO_EXCEPTION (malformed message seen from chDB's Protobuf reader)
    }
)
# Codes that say the engine itself cannot take writes now (no space, overloaded, timed out),
# whatever the data: retried without the `permanent_after` bound.
_UNAVAILABLE_CODES: Final = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        394,  # QUERY_WAS_CANCELLED
    }
)
_MEMORY_LIMIT_EXCEEDED: Final = 241
_NO_SPACE: Final = ("No space left on device", "errno: 28", "ENOSPC")
_CODE_PREFIX: Final = "Code: "


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def length_delimited(payloads: Sequence[bytes]) -> bytes:
    """ClickHouse's `Protobuf` format: each message prefixed by its varint length."""
    return b"".join(_varint(len(p)) + p for p in payloads)


def classify(error: Exception) -> PermanentError | RetryableError:
    """Map a clickhouse-connect error to our error tree by the server's numeric code: no code
    (unreachable, an OSError) or an engine-state code → UnavailableError; 241 →
    BatchTooLargeError; a known data error → PermanentError; any other code → RetryableError
    (which the consumer turns permanent if it keeps repeating on the same data)."""
    text = str(error)
    code = None
    if _CODE_PREFIX in text:
        digits = text.split(_CODE_PREFIX, 1)[1].split(".", 1)[0].strip()
        code = int(digits) if digits.isdigit() else None
    if code in _PERMANENT_CODES:
        return PermanentError(text)
    if code == _MEMORY_LIMIT_EXCEEDED:
        return BatchTooLargeError(text)
    if code is None or code in _UNAVAILABLE_CODES or any(s in text for s in _NO_SPACE):
        return UnavailableError(text)
    return RetryableError(text)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


class TablesRefusedError(PermanentError):
    """ClickHouse refused the data for these tables; the signal's other tables took it. A
    retry with other tokens (the sink's bisect) must go to these tables only, and only with the
    records of `ranges` (index ranges [lo, hi) of the payloads; the other sub-ranges landed),
    or the rest would be stored twice."""

    def __init__(
        self, message: str, tables: frozenset[str], ranges: tuple[tuple[int, int], ...] = ()
    ) -> None:
        super().__init__(message)
        self.tables = tables
        self.ranges = ranges


def subranges(payloads: Sequence[bytes], limit: int = SUBRANGE_BYTES) -> list[tuple[int, int]]:
    """Consecutive [lo, hi) index ranges of at most `limit` bytes (a record is never split)."""
    ranges: list[tuple[int, int]] = []
    lo = size = 0
    for i, payload in enumerate(payloads):
        if i > lo and size + len(payload) > limit:
            ranges.append((lo, i))
            lo, size = i, 0
        size += len(payload)
    if lo < len(payloads):
        ranges.append((lo, len(payloads)))
    return ranges


@dataclass(frozen=True, slots=True)
class _Task:
    """One sub-range's INSERT into one table: what it reads, and its dedup token."""

    statement: IngestStatement
    blob: bytes
    file: Path
    token: str
    span: tuple[int, int]


class ProtobufInserter:
    """Inserts raw Export*ServiceRequest payloads through ClickHouse's Protobuf input.

    Sub-ranges of a batch (and a logs batch's independent statements) run on `lanes` clients
    at once, one engine thread each, so the two cores both build blocks and blocks stay a
    function of the data.
    """

    def __init__(
        self,
        client: Client,
        target: Target,
        tmp_dir: str | Path,
        *,
        extra_clients: Sequence[Client] = (),
        subrange_bytes: int = SUBRANGE_BYTES,
    ) -> None:
        self._clients = [client, *extra_clients]
        self._subrange_bytes = subrange_bytes
        self._pool = (
            ThreadPoolExecutor(len(self._clients), thread_name_prefix="insert")
            if extra_clients
            else None
        )
        self._target = target
        self._tmp_dir = Path(tmp_dir)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        self._schema = ingest_proto_text()
        self._statements: dict[Signal, list[IngestStatement]] = {
            s: statements_for(s) for s in Signal
        }

    def _settings(self, signal: Signal, token: str) -> dict[str, Any]:
        return {
            "format_schema_source": "string",
            "format_schema": self._schema,
            "format_schema_message_name": MESSAGE_NAMES[signal],
            "insert_deduplication_token": token,
            "deduplicate_insert": "enable",
            "deduplicate_insert_select": "force_enable",
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "parallel_view_processing": 0,
            "async_insert": 0,
            "max_threads": 1,
            "max_insert_threads": 1,
            "max_block_size": 1_000_000,
            "min_insert_block_size_rows": 1_000_000,
            "min_insert_block_size_bytes": 1 << 30,
            "input_format_parallel_parsing": 0,
        }

    def insert(
        self,
        signal: Signal,
        payloads: Sequence[bytes],
        token: str,
        tables: Collection[str] | None = None,
        *,
        ids: Sequence[int] | None = None,
    ) -> None:
        """Insert `payloads` into every table of `signal` (or only `tables`). `ids` are the
        payloads' WAL record ids (they name the sub-range tokens; positions when absent).
        Raises TablesRefusedError when the data itself is refused by some tables (with the
        refused sub-ranges), RetryableError for everything else (storage down, timeouts); a
        retry with the same token is always safe."""
        statements = [s for s in self._statements[signal] if tables is None or s.table in tables]
        if not payloads or not statements:
            return
        names = list(ids) if ids is not None else list(range(len(payloads)))
        stem = f"{token.replace('/', '~')}.{signal.name.lower()}"
        tasks: list[_Task] = []
        for lo, hi in subranges(payloads, self._subrange_bytes):
            sub_token = f"{token}@{names[lo]}-{names[hi - 1]}"
            tasks += self._tasks(statements, payloads[lo:hi], sub_token, (lo, hi), stem)
        if self._target.embedded:
            try:
                for task in {t.file: t for t in tasks}.values():
                    task.file.write_bytes(task.blob)
            except OSError as e:  # e.g. ENOSPC: storage cannot take anything now
                for task in tasks:
                    task.file.unlink(missing_ok=True)
                raise UnavailableError(f"cannot stage the insert in {self._tmp_dir}: {e}") from e
        try:
            failures = self._run(signal, tasks)
        finally:
            if self._target.embedded:
                for task in tasks:
                    task.file.unlink(missing_ok=True)
        unavailable = [e for _, e in failures if isinstance(e, UnavailableError)]
        if unavailable:
            raise unavailable[0]  # storage trouble: retry everything (tokens make it safe)
        retryable = [e for _, e in failures if isinstance(e, RetryableError)]
        if retryable:
            # Too large, or unclassified: each names every failing table, so a split (other
            # tokens) goes to those only; a plain retry (same tokens) is safe for all.
            detail = "; ".join(f"{t.statement.table} {t.token}: {e}" for t, e in failures)
            failed = frozenset(t.statement.table for t, _ in failures)
            if any(isinstance(e, BatchTooLargeError) for e in retryable):
                raise BatchTooLargeError(detail, tables=failed)
            raise RetryableError(detail, tables=failed)
        if failures:
            detail = "; ".join(f"{t.statement.table} {t.token}: {e}" for t, e in failures)
            refused = frozenset(t.statement.table for t, _ in failures)
            ranges = tuple(sorted({t.span for t, _ in failures}))
            raise TablesRefusedError(detail, refused, ranges)

    def _tasks(
        self,
        statements: Sequence[IngestStatement],
        payloads: Sequence[bytes],
        token: str,
        span: tuple[int, int],
        stem: str,
    ) -> list[_Task]:
        """One task per statement that has rows to read in this sub-range."""
        data = length_delimited(payloads)
        base = self._tmp_dir / f"{stem}.{span[0]}.pb"
        subsets: dict[bytes, tuple[bytes, Path] | None] = {}
        tasks = []
        for statement in statements:
            marker = statement.requires
            chosen: tuple[bytes, Path] | None = (data, base)
            if marker is not None:
                if marker not in subsets:  # only the payloads that can yield its rows
                    picked = [p for p in payloads if marker in p]
                    if not picked:
                        subsets[marker] = None
                    elif len(picked) == len(payloads):
                        subsets[marker] = (data, base)
                    else:
                        file = self._tmp_dir / f"{stem}.{span[0]}.{marker.hex()[:24]}.pb"
                        subsets[marker] = (length_delimited(picked), file)
                chosen = subsets[marker]
            if chosen is not None:
                blob, file = chosen
                tasks.append(_Task(statement, blob, file, f"{token}:{statement.table}", span))
        return tasks

    def _run(self, signal: Signal, tasks: list[_Task]) -> list[tuple[_Task, Exception]]:
        """Run the tasks on every lane (each lane pulls the next task); return the failures."""
        pending = iter(tasks)
        lock = threading.Lock()
        failures: list[tuple[_Task, Exception]] = []

        def lane(client: Client) -> None:
            while True:
                with lock:
                    task = next(pending, None)
                if task is None:
                    return
                statement = task.statement
                structure = statement.structure or STRUCTURES[signal]
                source = (
                    f"file('{_escape(str(task.file))}', 'Protobuf', '{structure}')"
                    if self._target.embedded
                    else f"input('{structure}')"
                )
                settings = self._settings(signal, task.token)
                try:
                    self._insert_one(client, statement, source, task.blob, settings)
                except (PermanentError, RetryableError) as e:
                    with lock:
                        failures.append((task, e))

        if self._pool is None or len(tasks) == 1:
            lane(self._clients[0])
        else:
            futures = [self._pool.submit(lane, c) for c in self._clients[: len(tasks)]]
            for future in futures:
                future.result()
        return failures

    def _insert_one(
        self,
        client: Client,
        statement: IngestStatement,
        source: str,
        data: bytes,
        settings: dict[str, Any],
    ) -> None:
        sql = statement.render(source, self._target.database)
        started = time.perf_counter()
        try:
            if self._target.embedded:
                client.command(sql, settings=settings)
            else:
                client.command(sql + " FORMAT Protobuf", data=data, settings=settings)
        except (ClickHouseError, DatabaseError, OperationalError, OSError) as e:
            err = classify(e)
            kind = "permanent" if isinstance(err, PermanentError) else "retryable"
            telemetry.INSERT_ERRORS.labels(statement.table, kind).inc()
            raise err from e
        finally:
            telemetry.INSERT_SECONDS.labels(statement.table).observe(time.perf_counter() - started)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for leftover in self._tmp_dir.glob("*.pb"):
            leftover.unlink(missing_ok=True)
        os.sync()
